from lorabench.report import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_curves_need_data():
    assert plots.loss_curves([]) is None
    assert plots.validation_metrics([{"step": 1, "epoch": 1.0, "val_loss": 2.0}]) is None


def test_every_plot_is_a_png():
    log = [{"step": 1, "epoch": 0.5, "loss": 3.0}, {"step": 2, "epoch": 1.0, "loss": 2.5},
           {"step": 2, "epoch": 1.0, "val_loss": 2.7, "val_exact_match": 0.25}]
    assert plots.loss_curves(log).startswith(PNG)
    assert plots.validation_metrics(log).startswith(PNG)
    bars = plots.metric_bars(["exact_match", "f1"], [plots.Series("base", [0.1, 0.2], [0.0, 0.1], [0.3, 0.4]),
                                                     plots.Series("tuned", [0.5, None])], "t")
    assert bars.startswith(PNG)
    assert plots.category_bars(["empty", "wrong"], {"base": {"empty": 3}, "tuned": {"wrong": 1}}).startswith(PNG)
