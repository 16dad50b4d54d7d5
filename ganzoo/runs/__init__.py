"""A training run: the phases `ganzoo train` (and `ganzoo.train`) go through, and its files.

    train.py        train(config): check, set up, fit with resume, finish
    record.py       config.json (the saved config, resumes' changes, the resume checks); load_run / open_run
    setup.py        the model, mixed-precision policy and steps per epoch of a config
    finish.py       a finished run: its completion report, its one export, its model card fields
    files.py        the run directory: lock, config/history JSON, checkpoint names, latest.json
    checkpoints.py  save and load checkpoints (the newest loadable one on resume)
    signals.py      SIGTERM as an interrupt; blocks Ctrl-C must not cut in half
    backend.py      the Keras backend and strategy of a run (tf.distribute, or keras.distribution on JAX)
    callbacks/      step bookkeeping, NaN guard, checkpointer, TensorBoard logging, event writer

Importing this package imports nothing; `ganzoo.runs.train` imports TensorFlow when a run starts.
"""
