import pytest

from monitors.alerting.fingerprint import fingerprint


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        # Test vectors of prometheus/common model/signature_test.go (LabelSet fingerprints).
        ({}, 14695981039346656037),
        ({"first_name": "electro", "occupation": "robot", "manufacturer": "westinghouse"}, 5911716720268894962),
        ({"x": "y"}, 8241431561484471700),
        ({"a": "bb", "b": "c"}, 3016285359649981711),
    ],
)
def test_fingerprint_matches_prometheus(labels: dict[str, str], expected: int) -> None:
    assert int(fingerprint(labels), 16) == expected


def test_fingerprint_depends_on_labels_not_their_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1", "b": "2"}) != fingerprint({"a": "1", "b": "3"})
    assert fingerprint({"a": "bb", "b": "c"}) != fingerprint({"a": "b", "bb": "c"})
