import pytest

from framework.data.errors import DataError
from framework.data.recipe import SourceConfig
from framework.data.sources import ReadStats, iter_texts, list_units, read_documents
from tests.data.helpers import write_fineweb_parquet


def read_all(source):
    stats = ReadStats()
    return [text for _, text in iter_texts(source, stats)], stats


def test_txt_paragraphs_skip_invalid_utf8_and_empty(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes("First paragraph, café.\n\n".encode() + b"Second \xff\xfe broken\nstill second.\n\n   \n\nThird.\n")
    texts, stats = read_all(SourceConfig(path=str(f)))
    assert [t.strip() for t in texts] == ["First paragraph, café.", "Third."]
    assert stats.invalid_utf8 == 1 and stats.documents == 2


def test_txt_by_line_and_by_document(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("one\ntwo\n\nthree\n")
    assert len(read_all(SourceConfig(path=str(f), txt_sample_by="line"))[0]) == 3
    assert len(read_all(SourceConfig(path=str(f), txt_sample_by="document"))[0]) == 1


def test_jsonl_and_csv_count_invalid_utf8(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"text": "good one"}\n{"text": "bad \xff one"}\n{"text": ""}\n')
    texts, stats = read_all(SourceConfig(path=str(tmp_path / "a.jsonl")))
    assert texts == ["good one"] and (stats.invalid_utf8, stats.empty) == (1, 1)
    (tmp_path / "b.csv").write_bytes(b"label,body\n1,na\xc3\xafve\n2,bad \xff\n")
    texts, stats = read_all(SourceConfig(path=str(tmp_path / "b.csv"), text_field="body"))
    assert texts == ["naïve"] and stats.invalid_utf8 == 1


def test_fineweb_schema_filters(tmp_path, docs):
    write_fineweb_parquet(tmp_path / "fw" / "0.parquet", docs[:8], [0, 1, 2, 3, 4, 5, 3, 2])
    source = SourceConfig(path=str(tmp_path / "fw"), min_int_score=3, id_field="id")
    stats = ReadStats()
    unit = list_units(source)[0]
    kept = list(read_documents(source, unit, stats))
    assert [text for _, text in kept] == [docs[i] for i in (3, 4, 5, 6)]
    assert kept[0][0] == "<urn:uuid:00000003>"  # the id is the document's key
    assert stats.filtered == 4
    assert len(read_all(SourceConfig(path=str(tmp_path / "fw"), languages=["de"]))[0]) == 0
    assert len(read_all(SourceConfig(path=str(tmp_path / "fw"), max_documents=2))[0]) == 2


def test_globs_directories_and_units(corpus_dir):
    units = list_units(SourceConfig(path=str(corpus_dir / "fineweb" / "*.parquet")))
    assert [u.detail.rsplit("/", 1)[-1] for u in units] == ["000.parquet", "001.parquet"]
    assert len(list_units(SourceConfig(path=str(corpus_dir)))) == 3  # a folder: every readable file


def test_hub_code_path_on_a_local_dataset_folder(tmp_path, docs):
    write_fineweb_parquet(tmp_path / "hub" / "data" / "train-00000-of-00002.parquet", docs[:3], [3, 3, 1])
    write_fineweb_parquet(tmp_path / "hub" / "data" / "train-00001-of-00002.parquet", docs[3:5], [4, 4], start=3)
    source = SourceConfig(hub=str(tmp_path / "hub"), split="train", streaming=True, min_int_score=3)
    units = list_units(source)
    assert len(units) == 2
    per_unit = [[t for _, t in read_documents(source, u, ReadStats())] for u in units]
    assert per_unit == [docs[:2], docs[3:5]]


@pytest.mark.parametrize("path, message", [("nope.txt", "does not exist"), ("*.nothing", "no files match"),
                                           ("empty_dir", "holds no")])
def test_missing_inputs_fail_clearly(tmp_path, monkeypatch, path, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match=message):
        list_units(SourceConfig(path=path))


def test_missing_text_column(corpus_dir):
    with pytest.raises(DataError, match="no column"):
        read_all(SourceConfig(path=str(corpus_dir / "notes.jsonl"), text_field="content"))


def test_empty_and_malformed_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    assert read_all(SourceConfig(path=str(tmp_path / "empty.jsonl")))[0] == []
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{"text": broken\n')
    with pytest.raises(DataError, match="cannot read .*bad.jsonl"):
        read_all(SourceConfig(path=str(tmp_path / "bad.jsonl")))
