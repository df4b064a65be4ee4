"""The filter language's checks: one error naming the place, the operator and what was expected, and
the limits of indexer.limits named in it; the simple options are the same conditions as where."""

from __future__ import annotations

import pytest

from indexer.errors import InvalidInput, LimitExceeded
from indexer.filters import And, Cond, Filters, Not, Or, matches, parse_where
from indexer.limits import MAX_WHERE_DEPTH, MAX_WHERE_NODES, MAX_WHERE_VALUES


@pytest.mark.parametrize("where, field, words", [
    ({"$or": [{"a": 1}, {"year": {"$gte": "abc"}}]}, "where.$or[1].year.$gte",
     'expected a number or an ISO 8601 date, got "abc"'),
    ({"a": {"$regex": "x"}}, "where.a.$regex", "unknown operator $regex: expected one of $eq"),
    ({"$nor": [{"a": 1}]}, "where.$nor", "unknown operator $nor"),
    ({"a": {"$in": "x"}}, "where.a.$in", 'expected a non-empty list of values, got "x"'),
    ({"a": {"$exists": 1}}, "where.a.$exists", "expected true or false, got 1"),
    ({"size": {"$eq": "big"}}, "where.size.$eq", 'expected a number or an ISO 8601 date, got "big"'),
    ({"ext": 3}, "where.ext", "expected a string, got 3"),
    ({"kind": {"$in": ["file", "pdf"]}}, "where.kind.$in[1]", 'expected "file" or "doc", got "pdf"'),
    ({"ext": {"$contains": "md"}}, "where.ext.$contains", "$contains tests a metadata list"),
    ({"tags": {"$glob": "a*"}}, "where.tags.$glob", "$glob matches the path field only"),
    ({"$and": []}, "where.$and", "expected a non-empty list of where documents"),
    ({"$not": [{"a": 1}]}, "where.$not", "expected an object"),
    ({"a": {"$eq": {"b": 1}}}, "where.a.$eq", "expected a string, number or boolean"),
    ({"bad key!": 1}, "where.bad key!", "expected a field name"),
    ('{"a": ', "where", "got text that is not JSON"),
])
def test_a_bad_where_is_one_error_naming_the_place_and_what_was_expected(where, field, words):
    with pytest.raises(InvalidInput) as e:
        Filters(where=where).check()
    assert e.value.field == field
    assert str(e.value).startswith(field + ": ") and words in str(e.value), str(e.value)


def test_the_limits_are_named():
    deep: dict = {"a": 1}
    for _ in range(MAX_WHERE_DEPTH):
        deep = {"$not": deep}
    with pytest.raises(LimitExceeded, match=f"at most {MAX_WHERE_DEPTH} levels deep"):
        parse_where(deep)
    with pytest.raises(LimitExceeded, match=f"at most {MAX_WHERE_NODES} conditions"):
        parse_where({"$or": [{f"k{i}": i} for i in range(MAX_WHERE_NODES + 1)]})
    with pytest.raises(LimitExceeded, match=f"at most {MAX_WHERE_VALUES} values"):
        parse_where({"a": {"$in": list(range(MAX_WHERE_VALUES + 1))}})


def test_the_simple_options_are_sugar_for_the_same_tree():
    tree = Filters(path_glob="docs/**", ext=["MD"], metadata={"topic": "tea", "gone": None, "size": 3},
                   modified_after=5.0, where={"year": {"$gte": "2024-01-01"}}).tree()
    assert tree == And((Cond("path", "glob", "docs/**"), Cond("ext", "in", (".md",)), Cond("topic", "eq", "tea"),
                        Cond("gone", "exists", False), Cond("metadata.size", "eq", 3),
                        Cond("modified", "gt", 5.0), Cond("year", "gte", 1704067200.0)))
    assert parse_where({"$or": [{"a": None}], "$not": {"b": {"$in": [1, True, 1.0]}}}) == And((
        Or((Cond("a", "exists", False),)), Not(Cond("b", "in", (1, True))),))


def test_the_reference_reads_lists_booleans_and_missing_keys():
    row = {"kind": "doc", "path": "d1", "root": "", "ext": "", "size": 10, "modified": 0.0,
           "metadata": {"tags": ["a", "b"], "n": 3.0, "flag": True, "empty": []}}

    def ok(where):
        return matches(parse_where(where), row)

    assert ok({"tags": "a"}) and ok({"tags": {"$contains": "b"}}) and not ok({"tags": {"$ne": "a"}})
    assert ok({"n": 3}) and ok({"n": {"$in": [1, 3]}}) and not ok({"n": True}) and not ok({"flag": 1})
    assert ok({"missing": {"$ne": 1}}) and ok({"missing": {"$nin": [1]}}) and not ok({"missing": {"$lt": 5}})
    assert ok({"empty": {"$exists": False}}) and ok({"$not": {"missing": {"$exists": True}}})
    assert not ok({"path": {"$glob": "*"}}) and ok({"kind": "doc", "size": {"$gte": 10}})
