"""The built-in video corpora, one plug-in module each (CREMA-D, MSP-IMPROV), registered on import.

To add a video corpus, write one module here (or anywhere) that builds a `moede.data.corpus.VideoCorpus` (its name,
title, classes, reader, layout check, partition source, demo generator, expert banks and settings) and passes it to
`register_corpus`, then add the module to the import line below (the one line). From then on the command line
takes its root (--<name>, or --set extra='{"<name>_root": "..."}'; a RunConfig field <name>_root when there is one),
the preflight checks it, `moede.stages.resolve.resolve_video` reads it (or its demo) and
`moede.stages.dynamic.corpus_features` / `run_table5` run chapter 5's models on it.
"""

from moede.data.corpora import cremad, msp_improv  # noqa: F401  (one line: the modules registering a corpus)
