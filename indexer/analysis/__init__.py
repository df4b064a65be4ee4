"""Keyword analysis: how text becomes the words a keyword index and a keyword query hold (the word
pattern, the stopwords). One place, used by every store's keyword index and by the query side
(snippets), so documents and queries are always analysed the same way."""
