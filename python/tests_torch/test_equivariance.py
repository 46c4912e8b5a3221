"""The equivariance check on two toy torch networks of molecules: one built to be E(3)-equivariant
(messages along the differences x_i − x_j, weighted by an MLP of their squared lengths, as EGNN's
coordinate update), one that is not (an MLP on the flattened coordinates); beside the exact oracle
of an isotropic zero-centre-of-mass prior, which is equivariant to rounding."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import tweedie  # noqa: E402
import tweedie.torch  # noqa: E402

torch.set_default_dtype(torch.float64)


class ToyEquivariant(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.phi = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.SiLU(), torch.nn.Linear(16, 1))

    def forward(self, x, sigma):
        diff = x[:, :, None, :] - x[:, None, :, :]                      # (B, N, N, 3)
        d2 = (diff ** 2).sum(-1, keepdim=True)                         # (B, N, N, 1)
        s = sigma[:, None, None, None].expand_as(d2)
        weights = self.phi(torch.cat([d2, s], dim=-1))                  # invariant
        return x - (diff * weights).mean(dim=2)


class ToyFlat(torch.nn.Module):
    def __init__(self, atoms):
        super().__init__()
        torch.manual_seed(1)
        self.net = torch.nn.Sequential(torch.nn.Linear(3 * atoms, 32), torch.nn.SiLU(), torch.nn.Linear(32, 3 * atoms))

    def forward(self, x, sigma):
        return self.net(x.reshape(len(x), -1)).reshape(x.shape)


def test_equivariant_network_passes_flat_network_fails():
    n = 6
    prior = tweedie.Model.from_dict({"weights": [1.0], "means": [[0.0] * (3 * n)], "covariance_type": "spherical",
                                     "covariances": [0.5], "shape": [n, 3], "zero_centre_of_mass": True})
    x = np.random.default_rng(0).normal(size=(4, n, 3))
    good = tweedie.torch.equivariance(ToyEquivariant(), x, sigma=0.8, model=prior)
    assert good.largest < 1e-12 and good.reference < 1e-13
    bad = tweedie.torch.equivariance(ToyFlat(n), torch.from_numpy(x), sigma=0.8)
    assert bad.largest > 0.05
