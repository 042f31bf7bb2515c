"""`fusionbench plot`: every kind in PNG/PDF/SVG, paper column width, fonts >= 8 pt, registry labels."""
from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.text import Text

from fusionbench import plots
from fusionbench.cli import main
from fusionbench.stats import metric_label


def _frame():
    rows = [(m, f"p{i}", k, v + i * 0.1 + (0.5 if m == "b" else 0.0))
            for m in ("a", "b", "c") for i in range(5) for k, v in (("qabf_liu", 0.4), ("nmi", 0.8))]
    return pd.DataFrame(rows, columns=["method", "pair", "metric", "value"])


@pytest.mark.parametrize("kind", plots.KINDS)
def test_figures_fit_a_paper_column_with_readable_fonts_and_registry_labels(kind):
    fig = plots.make_plot(_frame(), kind, "qabf_liu", "nmi")
    w, _ = fig.get_size_inches()
    assert w == pytest.approx(3.5)
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()]
    assert sizes and min(sizes) >= 8
    ax = fig.axes[0]
    label = ax.get_xlabel() if kind == "scatter" else ax.get_ylabel()
    assert label == metric_label("qabf_liu") and label.endswith("↑")      # registry label + arrow
    if kind == "scatter":
        assert ax.get_ylabel() == metric_label("nmi")
        assert len(ax.get_legend().get_texts()) == 3            # one point per method
    if kind == "pairs":
        assert len(ax.get_lines()) == 3                          # one line per method


@pytest.mark.parametrize("ext,magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_plot_cli_writes_each_format(synthetic_store, tmp_path, ext, magic):
    out = tmp_path / f"fig{ext}"
    assert main(["plot", "--dataset", "synthetic", "--kind", "box", "--metric", "en", "--results",
                 str(synthetic_store), "-o", str(out)]) == 0
    assert out.read_bytes()[:len(magic)] == magic


def test_plot_cli_kinds_and_errors(synthetic_store, tmp_path, capsys):
    for kind in ("pairs", "violin"):
        assert main(["plot", "--dataset", "synthetic", "--kind", kind, "--metric", "qy", "--methods", "average,max",
                     "--results", str(synthetic_store), "-o", str(tmp_path / f"{kind}.png")]) == 0
    assert main(["plot", "--dataset", "synthetic", "--kind", "scatter", "--metric", "qabf_liu", "--metric2", "nmi",
                 "--results", str(synthetic_store), "-o", str(tmp_path / "s.png")]) == 0
    assert main(["plot", "--dataset", "synthetic", "--kind", "scatter", "--metric", "en",
                 "--results", str(synthetic_store), "-o", str(tmp_path / "x.png")]) == 2
    assert main(["plot", "--dataset", "synthetic", "--metric", "en", "--results", str(synthetic_store),
                 "-o", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "--metric2" in err and ".gif" in err and "Traceback" not in err
