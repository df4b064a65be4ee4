# Retrieval quality on BEIR SciFact (issue 5): nDCG@10, Recall@100, MRR@10 for dense, keyword and hybrid.
# The corpus is indexed once into the collection beir-scifact and reused by later runs.
EVAL_DATASET ?= ../shared/data/scifact

.PHONY: eval
eval:  ## evaluate dense, keyword and hybrid search on BEIR SciFact
	HF_HUB_OFFLINE=1 .venv/bin/semsearch eval $(EVAL_DATASET)
