import os

from hima.app.control import MAX_LINE_BYTES, TOO_LONG, ControlReader


def read_all(data: bytes) -> list:
    r, w = os.pipe()
    reader = ControlReader(r)
    os.write(w, data) if len(data) < 60000 else [os.write(w, data[i:i + 4096]) for i in range(0, len(data), 4096)]
    os.close(w)
    assert reader.eof.wait(10)
    os.close(r)
    return reader.pending()


def test_lines_are_split_blank_lines_skipped_last_line_kept():
    assert read_all(b'{"a":1}\n\n  \n{"b":2}\n{"c":3}') == [b'{"a":1}', b'{"b":2}', b'{"c":3}']


def test_over_long_lines_become_one_marker_and_reading_goes_on():
    huge = b"x" * (3 * MAX_LINE_BYTES)
    assert read_all(b"first\n" + huge + b"\nafter\n") == [b"first", TOO_LONG, b"after"]
    exact = b"y" * MAX_LINE_BYTES
    assert read_all(exact + b"\n") == [exact]
