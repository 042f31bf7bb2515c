"""Issue 15, item 13: ``fusionbench check`` on degenerate baselines."""
from __future__ import annotations

from fusionbench.check import check, write_baseline
from fusionbench.cli import main

HEADER = "dataset,method,pair,metric,value,rtol,atol\n"


def test_header_only_baseline_fails(tmp_path, capsys):
    b = tmp_path / "b.csv"
    b.write_text(HEADER)
    assert main(["check", "--baseline", str(b)]) == 1
    err = capsys.readouterr().err
    assert "0 values" in err and "nothing to check" in err


def test_text_in_a_number_column_is_one_line(tmp_path, capsys):
    b = tmp_path / "b.csv"
    b.write_text(HEADER + "synthetic,average,camera,en,6.5,,\nsynthetic,average,camera,sd,abc,,\n")
    assert main(["check", "--baseline", str(b)]) == 2
    err = capsys.readouterr().err
    assert "b.csv: line 3: column 'value' holds 'abc', not a number" in err and "Traceback" not in err
    b.write_text(HEADER + "synthetic,average,camera,en,6.5,tight,\n")
    assert main(["check", "--baseline", str(b)]) == 2
    assert "column 'rtol' holds 'tight'" in capsys.readouterr().err


def test_unknown_metric_marks_only_its_row(tmp_path):
    good = tmp_path / "good.csv"
    main(["check", "--init", "--baseline", str(good), "--datasets", "synthetic", "--methods", "average",
          "--metrics", "en", "--pairs", "synthetic:camera"])
    line = good.read_text().splitlines()[1]
    b = tmp_path / "b.csv"
    b.write_text(HEADER + line + "\n" + "synthetic,average,camera,nosuchmetric,1.0,,\n")
    res = check(b)
    st = dict(zip(res.rows.metric, res.rows.status))
    assert st["en"] == "ok"
    assert st["nosuchmetric"].startswith("error: unknown metric 'nosuchmetric'")


def test_baseline_names_are_csv_quoted(tmp_path):
    import pandas as pd

    from fusionbench.check import read_baseline

    df = pd.DataFrame([("d", "published:a,b", "p,1", "en", 1.5, float("nan"), float("nan"))],
                      columns=["dataset", "method", "pair", "metric", "value", "rtol", "atol"])
    write_baseline(tmp_path / "b.csv", df)
    back = read_baseline(tmp_path / "b.csv")
    assert back.method[0] == "published:a,b" and back.pair[0] == "p,1" and back.value[0] == 1.5
