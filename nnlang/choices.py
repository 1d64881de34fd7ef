"""The words the command line, the language server and the report accept for their options:
defined here once, read by click's choices, the report and the documentation. Kept free of
imports: the command line reads it at start-up."""

#: How parameters are counted: whose convention decides batch-norm statistics and recurrent
#: biases (docs/conventions.md).
CONVENTIONS = ("keras", "pytorch", "textbook")
#: Bytes per value of each data type, for memory figures.
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8, "int8": 1}
#: Memory units: (bytes in one megabyte, its symbol), as the JSON report names the unit system.
UNITS = {"si": (10**6, "MB"), "iec": (2**20, "MiB")}
#: The units a report writes memory in, smallest first: a figure is shown in the largest unit it
#: reaches (2.47 kB, 6.89 GB; 2.41 KiB with iec). (step between units, their symbols)
UNIT_STEPS = {"si": (1000, ("B", "kB", "MB", "GB", "TB", "PB")),
              "iec": (1024, ("B", "KiB", "MiB", "GiB", "TiB", "PiB"))}
#: Values the optimizer keeps per parameter, for training memory.
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "adam": 2}
#: What the operations column counts.
OPS = ("macs", "flops", "flops-all")
#: Report formats of `nnc FILE`.
FORMATS = ("text", "json", "markdown", "csv", "latex", "html", "equation")
#: Formats of a side-by-side comparison (`nnc compare`).
COMPARE_FORMATS = ("text", "json", "markdown", "csv", "latex", "html")
