import pytest

from monitors.windows.segments import MISSING, OTHER, SegmentBuckets


def test_top_values_keep_their_bucket_and_the_rest_is_other() -> None:
    buckets = SegmentBuckets(["country", "device"], top_k=2)
    for i in range(100):
        buckets.learn({"country": ["FR", "FR", "DE", f"rare-{i}"][i % 4], "device": "ios" if i % 2 else "android"})
    assert buckets.learned == 100 and not buckets.frozen
    buckets.freeze()
    assert buckets.segments({"country": "FR", "device": "ios"}) == {"country": "FR", "device": "ios"}
    assert buckets.segments({"country": "rare-3", "device": "web"}) == {"country": OTHER, "device": OTHER}
    assert buckets.bucket("country", "never-seen") == OTHER


def test_a_missing_key_is_its_own_value_and_learning_stops_at_freeze() -> None:
    buckets = SegmentBuckets(["country"], top_k=1)
    for _ in range(3):
        buckets.learn({})
    buckets.learn({"country": "FR"})
    buckets.freeze()
    assert buckets.segments({}) == {"country": MISSING}
    for _ in range(10):
        buckets.learn({"country": "FR"})
    assert buckets.bucket("country", "FR") == OTHER and buckets.learned == 4


def test_memory_is_bounded_while_learning() -> None:
    buckets = SegmentBuckets(["id"], top_k=2, max_distinct=50)
    for i in range(10_000):
        buckets.learn({"id": str(i)})
    assert len(buckets._counts["id"]) == 50


def test_buckets_must_be_frozen_before_use_and_arguments_are_checked() -> None:
    with pytest.raises(RuntimeError, match="freeze"):
        SegmentBuckets(["k"]).bucket("k", "v")
    with pytest.raises(ValueError, match="top_k"):
        SegmentBuckets(["k"], top_k=0)
    with pytest.raises(ValueError, match="max_distinct"):
        SegmentBuckets(["k"], top_k=5, max_distinct=2)
