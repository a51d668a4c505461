"""Slurm: render and submit sbatch scripts, follow a run's jobs, and guard its requeues.

`render` fills a template from slurm/ (the #SBATCH block and the settings lines), `submit` checks the
recipe and hands the script to sbatch, `attempts` is what the job script calls around each attempt
(the requeue guard), `status` shows a run's jobs, attempts and checkpoints. `runs` knows where a
run keeps its Slurm files; `queue` is the only module that talks to Slurm's commands.
"""
