"""The `ganzoo` command: a thin shell over the library calls a notebook user makes.

    main.py      parse the command line, then call the library; exit codes 0 / 1 / 2 / 130
    common.py    shared flag types, config flags from the TrainConfig schema, output checks
    evaluate.py  `ganzoo evaluate`
    verify.py    `ganzoo verify`: an export's checksums and format parity (exit 0 / 1 / 2)
    quiet.py     TensorFlow's start-up noise held back unless --verbose

Entry point: `ganzoo.cli.main:main` (also `python -m ganzoo`).
"""
