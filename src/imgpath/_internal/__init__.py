"""What several layers of imgpath share, kept out of the public API (as ``hypothesis.internal`` is).

Nothing here imports a layer above it: ``dre`` loads the C engine, ``cache`` is the per-user
on-disk cache, ``judge`` evaluates one rule's conditions three-valued against an evaluation's
firings (for ``why``, ``why_not``, confidence and planning), ``views`` is where the presentation
layers plug ``why``, ``next_steps`` and the HTML views into the objects below them.
"""
