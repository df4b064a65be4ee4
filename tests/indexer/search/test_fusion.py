"""Hybrid fusion math (indexer.search.fusion: fuse, min_max): relative score fusion and reciprocal rank fusion."""

from __future__ import annotations

import pytest

from indexer.errors import InvalidInput
from indexer.search import fuse, min_max

# (source_id, score, best_chunk_id), best first
DENSE = [(1, 0.90, 11), (2, 0.80, 21), (3, 0.50, 31)]
KEYWORD = [(3, 12.0, 32), (4, 9.0, 41), (1, 3.0, 12)]
EQUAL = {"dense": 1.0, "keyword": 1.0}


def test_min_max_maps_best_to_one_and_worst_to_zero() -> None:
    assert min_max([0.9, 0.8, 0.5]) == pytest.approx([1.0, 0.75, 0.0])
    assert min_max([2.0, 2.0]) == [1.0, 1.0]  # no spread: every candidate is as good as the best
    assert min_max([7.0]) == [1.0]
    assert min_max([]) == []


def test_relative_fusion_is_the_weighted_mean_of_normalized_scores() -> None:
    # dense normalized: 1 -> 1.0, 2 -> 0.75, 3 -> 0.0; keyword: 3 -> 1.0, 4 -> 6/9, 1 -> 0.0
    fused = fuse({"dense": DENSE, "keyword": KEYWORD}, EQUAL)
    scores = {sid: sc for sid, sc, _, _ in fused}
    assert scores == pytest.approx({1: 0.5, 2: 0.375, 3: 0.5, 4: 1 / 3})
    # ties broken by source id; the best chunk comes from dense when dense found the source
    assert [(sid, cid) for sid, _, cid, _ in fused] == [(1, 11), (3, 31), (2, 21), (4, 41)]
    detail = dict((sid, det) for sid, _, _, det in fused)
    assert detail[3]["dense"] == {"rank": 3, "score": 0.5, "normalized": 0.0}
    assert detail[3]["keyword"] == {"rank": 1, "score": 12.0, "normalized": 1.0}
    assert "keyword" not in detail[2]


def test_relative_fusion_keeps_score_gaps_that_rank_fusion_loses() -> None:
    # Source 1 is dense's runaway best (a near-duplicate of the query) that keyword search missed;
    # 2 and 3 are mediocre in dense and found by keyword.
    dense = [(1, 0.95, 1), (2, 0.50, 2), (3, 0.49, 3)]
    keyword = [(3, 10.0, 3), (2, 9.0, 2)]
    relative = fuse({"dense": dense, "keyword": keyword}, EQUAL)
    rrf = fuse({"dense": dense, "keyword": keyword}, EQUAL, 60, method="rrf")
    assert [sid for sid, *_ in rrf][-1] == 1  # rank fusion: present in one ranking only -> last
    assert [sid for sid, *_ in relative][0] == 1  # relative: its dense lead keeps it on top (tie with 3, by id)
    assert {sid: sc for sid, sc, *_ in relative} == pytest.approx({1: 0.5, 2: 0.5 * 0.01 / 0.46, 3: 0.5})


def test_weights_shift_relative_fusion_and_a_single_ranking_keeps_its_order() -> None:
    dense_only = fuse({"dense": DENSE, "keyword": KEYWORD}, {"dense": 1.0, "keyword": 0.0})
    assert [sid for sid, *_ in dense_only][:3] == [1, 2, 3]
    assert dense_only[0][1] == pytest.approx(1.0)
    # keyword found nothing (e.g. only stopwords): hybrid is the dense ranking, scaled
    alone = fuse({"dense": DENSE, "keyword": []}, EQUAL)
    assert [sid for sid, *_ in alone] == [1, 2, 3]
    assert [sc for _, sc, *_ in alone] == pytest.approx([0.5, 0.375, 0.0])


def test_rrf_math() -> None:
    fused = fuse({"dense": DENSE, "keyword": KEYWORD}, {"dense": 1.0, "keyword": 2.0}, 60, method="rrf")
    scores = {sid: sc for sid, sc, _, _ in fused}
    assert scores == pytest.approx({1: 1 / 61 + 2 / 63, 2: 1 / 62, 3: 1 / 63 + 2 / 61, 4: 2 / 62})
    assert fused[0][0] == 3
    assert fused[0][3]["keyword"] == {"rank": 1, "score": 12.0}


def test_bad_fusion_and_weights_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="fusion must be one of relative, rrf"):
        fuse({"dense": DENSE}, EQUAL, method="borda")
    with pytest.raises(InvalidInput, match="dense_weight"):
        fuse({"dense": DENSE}, {"dense": -1.0, "keyword": 1.0})
