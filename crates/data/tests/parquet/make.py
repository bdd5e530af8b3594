"""Writes the Parquet files the reader tests use: every column type pandas,
pyarrow and Spark put in real exports, each in a small file of its own.

    python make.py            # writes *.parquet beside this script

Needs pyarrow and pandas (from PyPI). The files are committed; rerun this only
to add a type. Each file has the same five rows: a feature `x` of the type
under test (one row missing where the type allows it), a category `c`, and a
binary target `y`, so one plugin shape reads them all."""
import datetime as dt
import decimal
import pathlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

here = pathlib.Path(__file__).parent
c = pa.array(["a", "b", "a", "b", "a"])
y = pa.array([0, 1, 0, 1, 1], pa.int8())  # gen.py's target type


def write(name, x, **options):
    pq.write_table(pa.table({"x": x, "c": c, "y": y}), here / f"{name}.parquet", **options)


ints = [1, 2, None, 4, 5]
for t in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
    write(t, pa.array(ints, getattr(pa, t)()))
write("float16", pa.array(np.array([0.5, 1.5, np.nan, 2.25, -3.0], np.float16), pa.float16(), from_pandas=True))
write("float32", pa.array([0.5, 1.5, None, 2.25, -3.0], pa.float32()))
write("float64", pa.array([0.5, 1.5, None, 2.25, -3.0], pa.float64()))
write("bool", pa.array([True, False, None, True, False]))
write("decimal", pa.array([decimal.Decimal(v) if v else None for v in ["1.25", "2.50", None, "-3.75", "10.00"]], pa.decimal128(9, 2)))
# Spark writes a decimal of at most 18 digits as a plain 32- or 64-bit integer.
write("decimal_int", pa.array([decimal.Decimal(v) if v else None for v in ["1.25", "2.50", None, "-3.75", "10.00"]], pa.decimal128(9, 2)), store_decimal_as_integer=True)
write("decimal_wide", pa.array([decimal.Decimal(v) if v else None for v in ["1.25", "2.50", None, "-3.75", "10.00"]], pa.decimal128(30, 2)))
days = [dt.date(2024, 1, d) if d else None for d in [1, 2, None, 4, 5]]
write("date", pa.array(days, pa.date32()))
stamps = [dt.datetime(2024, 1, d, 12, 30) if d else None for d in [1, 2, None, 4, 5]]
write("timestamp", pa.array(stamps, pa.timestamp("us")))
write("timestamp_tz", pa.array(stamps, pa.timestamp("ms", tz="Europe/Berlin")))
# Spark's default for timestamps: the legacy 96-bit encoding.
write("timestamp_int96", pa.array(stamps, pa.timestamp("ns")), use_deprecated_int96_timestamps=True)
# Strings as pyarrow writes a dictionary array, and as pandas writes a categorical.
write("dictionary", pa.array(["lo", "hi", None, "lo", "hi"]).dictionary_encode())
frame = pd.DataFrame({"x": pd.Categorical(["lo", "hi", None, "lo", "hi"]), "c": ["a", "b", "a", "b", "a"], "y": np.array([0, 1, 0, 1, 1], np.int8)})
frame.to_parquet(here / "pandas_categorical.parquet", engine="pyarrow", index=False)
print("wrote", len(list(here.glob("*.parquet"))), "files")
