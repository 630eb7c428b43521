"""The HiMA application around the library: the trainer the extension and `python -m hima train` run.

The library (``hima``: the engine, tiering, depth units, compile, optimizer state, the protocol) is what a
user needs to wrap a model; this package is everything else: the command line (``cli``) and its run
configuration (``config``), start-up and stop signals (``signals``), the training loop (``train``) on the
GPT-2 model (``model``) and token files (``data``), protocol events (``events``) and controls (``control``)
in a private run folder (``run_folder``, ``checkpoint``), and torchrun (``distributed``, ``grad_sync``,
``rank_watch``).
"""
