"""Single compressed files are read through their decompressor as the name without the suffix says,
within the zip limits; man pages are read as text with the roff markup dropped."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest
import zstandard
from test_text_html_pdf import make_pdf

from indexer.collection import Collection
from indexer.readers import ReadLimits, SkipFile, is_supported, read_bytes
from indexer.stores.embedded import EmbeddedBackend

NEWS = b"Bash 5.2 changes: the shell now supports the globskipdots option and a new loadable builtin.\n"
MAN = rb""".\" a comment that is not text
.TH LS "1" "September 2022" "GNU coreutils 9.1" "User Commands"
.SH NAME
ls \- list directory contents
.SH DESCRIPTION
.PP
List information about the FILEs (the current directory by default).
.TP
\fB\-a\fR, \fB\-\-all\fR
do not ignore entries starting with \(dq.\(dq \(em see
.BR dircolors (1)
"""

COMPRESS = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress,
            ".zst": lambda d: zstandard.ZstdCompressor().compress(d)}


@pytest.mark.parametrize("suffix", sorted(COMPRESS))
def test_a_compressed_file_is_read_as_its_inner_name_says(suffix):
    doc = read_bytes("NEWS" + suffix, COMPRESS[suffix](NEWS))
    assert doc.text == NEWS.decode() and doc.metadata["compression"] in ("gzip", "bzip2", "xz", "zstd")
    pdf = read_bytes("manual.pdf" + suffix, COMPRESS[suffix](make_pdf(["Loadable builtins", "page two"])))
    assert "Loadable builtins" in pdf.text and [p.metadata["page"] for p in pdf.parts] == [1, 2]
    man = read_bytes("ls.1" + suffix, COMPRESS[suffix](MAN))
    assert man.metadata["title"] == "LS(1)" and "ls - list directory contents" in man.text


def test_several_members_are_read_like_zcat_does():
    assert read_bytes("log.gz", gzip.compress(b"first part\n") + gzip.compress(b"second part\n")).text == \
        "first part\nsecond part\n"


def test_a_compression_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"\0" * (8 << 20))  # 8 MiB of zeros in ~8 KiB: ~1000x
    with pytest.raises(SkipFile) as info:
        read_bytes("notes.txt.gz", bomb)
    assert info.value.reason == "over_limit" and "200x" in info.value.detail and "compression bomb" in info.value.detail
    with pytest.raises(SkipFile) as info:  # the unpacked-size limit, as for zip containers
        read_bytes("NEWS.xz", lzma.compress(NEWS * 100), limits=ReadLimits(max_unpacked_bytes=1000))
    assert info.value.reason == "over_limit" and "1000 bytes limit" in info.value.detail


def test_broken_archives_and_binaries_inside_are_skipped_with_a_reason():
    with pytest.raises(SkipFile) as info:
        read_bytes("NEWS.gz", gzip.compress(NEWS * 50)[:60])
    assert info.value.reason == "unreadable" and "gzip data is broken or cut short" in info.value.detail
    for name in ("photo.png.gz", "src.tar.gz", "twice.txt.gz.gz"):
        assert not is_supported(Path(name))
        with pytest.raises(SkipFile) as info:
            read_bytes(name, gzip.compress(b"x"))
        assert info.value.reason == "unsupported", name
    assert "an archive of several files" in str(pytest.raises(SkipFile, read_bytes, "a.tar.gz", b"x").value)


def test_a_man_page_is_text_without_markup():
    text = read_bytes("ls.1", MAN).text
    assert text.startswith("NAME\nls - list directory contents\n\nDESCRIPTION\n")
    assert '-a, --all\ndo not ignore entries starting with "." — see\ndircolors(1)' in text
    assert "\\" not in text and "comment" not in text and ".TH" not in text and "fB" not in text


def test_a_man_suffix_on_a_file_that_is_not_roff_is_plain_text_and_a_link_page_is_empty():
    log = b"Dec  7 10:00:01 host cron[1]: (root) CMD (run-parts /etc/cron.hourly)\n"
    assert read_bytes("syslog.1", log).text == log.decode()
    with pytest.raises(SkipFile) as info:
        read_bytes("zcat.1", b".so man1/gzip.1\n")
    assert info.value.reason == "empty" and "man1/gzip.1" in info.value.detail


def test_a_folder_of_compressed_files_and_man_pages_is_found_by_their_words(tmp_path, embedder):
    docs = tmp_path / "doc"
    docs.mkdir()
    (docs / "NEWS.gz").write_bytes(gzip.compress(NEWS))
    (docs / "ls.1.gz").write_bytes(gzip.compress(MAN))
    (docs / "CHANGES.bz2").write_bytes(bz2.compress(b"Fixed a crash in the readline history expansion code.\n"))
    with Collection.open(EmbeddedBackend(tmp_path / "data"), "docs", embedder) as coll:
        report = coll.index_folder(docs)
        assert report.added == 3 and report.skipped == []
        for query, name in (("globskipdots option", "NEWS.gz"), ("list directory contents", "ls.1.gz"),
                            ("readline history crash", "CHANGES.bz2")):
            assert Path(coll.search(query, k=1)[0].path).name == name, query
