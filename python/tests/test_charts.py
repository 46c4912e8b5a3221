"""Charts from Python are the command line's SVGs, byte for byte."""
import os
import subprocess

import numpy as np
import pytest

import tweedie

CLI = os.environ.get("TWEEDIE_CLI")


@pytest.mark.skipif(not CLI, reason="TWEEDIE_CLI is not set (make test-python sets it)")
@pytest.mark.parametrize("model", ["ring8", "chain16"])
def test_plot_samples_draws_the_clis_picture(model, tmp_path):
    subprocess.run([CLI, "sample", "--model", model, "--schedule", "vp-linear", "--sampler", "heun", "--steps", "6",
                    "--count", "40", "--seed", "3", "--out", str(tmp_path / "s.npy"),
                    "--plot", str(tmp_path / "cli.svg")], check=True, capture_output=True)
    # The command line's title: model, sampler, schedule, grid and steps, count.
    title = f"{model}: heun, vp-linear, karras grid, 6 steps, 40 samples"
    tweedie.plot_samples(tweedie.Model.builtin(model), np.load(tmp_path / "s.npy"), tmp_path / "python.svg",
                         title=title)
    assert (tmp_path / "python.svg").read_bytes() == (tmp_path / "cli.svg").read_bytes()


def test_plot_samples_refuses_what_it_cannot_draw(tmp_path):
    ring8 = tweedie.Model.builtin("ring8")
    with pytest.raises(tweedie.TweedieError, match="samples"):
        tweedie.plot_samples(ring8, np.ones((5, 3)), tmp_path / "x.svg")
    with pytest.raises(tweedie.TweedieTypeError):
        tweedie.plot_samples("ring8", np.ones((5, 2)), tmp_path / "x.svg")
    with pytest.raises(tweedie.TweedieError):
        tweedie.plot_samples(ring8, np.ones((5, 2)), tmp_path / "no-such-folder" / "x.svg")
    assert not (tmp_path / "x.svg").exists()
