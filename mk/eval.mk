# Retrieval quality on BEIR SciFact (issue 5): nDCG@10, Recall@100, MRR@10 for dense, keyword and hybrid.
# The corpus is indexed once into the collection beir-scifact and reused by later runs.
EVAL_DATASET ?= ../shared/data/scifact

.PHONY: eval
eval:  ## evaluate dense, keyword and hybrid search on BEIR SciFact
	HF_HUB_OFFLINE=1 .venv/bin/semsearch eval $(EVAL_DATASET)

# The fast path (bf16 where the CPU has it natively) against fp32 everywhere, each in its own collection:
# nDCG@10 must agree within 0.002 per mode (issue 6). Both collections are reused by later runs.
EVAL_TMP ?= $(or $(TMPDIR),/tmp)
.PHONY: eval-precision
eval-precision:  ## SciFact nDCG@10: fast path vs fp32 everywhere (must agree within 0.002)
	HF_HUB_OFFLINE=1 SEMSEARCH_PRECISION=fp32 .venv/bin/semsearch eval $(EVAL_DATASET) \
		--collection beir-scifact-fp32 --json > $(EVAL_TMP)/semsearch-eval-fp32.json
	HF_HUB_OFFLINE=1 .venv/bin/semsearch eval $(EVAL_DATASET) --json > $(EVAL_TMP)/semsearch-eval-fast.json
	.venv/bin/python benchmarks/compare_eval.py $(EVAL_TMP)/semsearch-eval-fp32.json $(EVAL_TMP)/semsearch-eval-fast.json
