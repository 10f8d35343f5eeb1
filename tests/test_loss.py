import torch
import torch.nn.functional as F

from translate_cli.core.train.loss import linear_cross_entropy


def test_fused_loss_and_gradients_equal_plain_cross_entropy():
    torch.manual_seed(0)
    hidden = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 50, (37,))
    for smoothing in (0.0, 0.1):
        fused = linear_cross_entropy(hidden, weight, targets, smoothing, chunk=8) * 0.5
        fused_grads = torch.autograd.grad(fused, (hidden, weight))
        plain = F.cross_entropy(hidden @ weight.t(), targets, label_smoothing=smoothing, reduction="sum") * 0.5
        plain_grads = torch.autograd.grad(plain, (hidden, weight))
        assert torch.allclose(fused, plain)
        for a, b in zip(fused_grads, plain_grads):
            assert torch.allclose(a, b)


def test_fused_loss_with_a_fixed_output_bias_equals_plain_cross_entropy():
    torch.manual_seed(1)
    hidden = torch.randn(29, 16, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(50, 16, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(50, dtype=torch.float64)
    targets = torch.randint(0, 50, (29,))
    fused = linear_cross_entropy(hidden, weight, targets, 0.1, chunk=8, bias=bias)
    plain = F.cross_entropy(hidden @ weight.t() + bias, targets, label_smoothing=0.1, reduction="sum")
    assert torch.allclose(fused, plain)
    for a, b in zip(torch.autograd.grad(fused, (hidden, weight)), torch.autograd.grad(plain, (hidden, weight))):
        assert torch.allclose(a, b)


def test_under_bf16_autocast_the_fused_loss_follows_plain_cross_entropy_under_the_same_autocast():
    """The weight gradient's products run in bf16 (as autocast runs the plain version's); the sums stay fp32."""
    torch.manual_seed(2)
    hidden = torch.randn(300, 64, requires_grad=True)
    weight = (torch.randn(500, 64) * 0.1).requires_grad_()
    targets = torch.randint(0, 500, (300,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fused = linear_cross_entropy(hidden, weight, targets, 0.1, chunk=64)
        plain = F.cross_entropy((hidden @ weight.t()).float(), targets, label_smoothing=0.1, reduction="sum")
    fused_grads = torch.autograd.grad(fused, (hidden, weight))
    plain_grads = torch.autograd.grad(plain, (hidden, weight))
    assert torch.allclose(fused, plain, rtol=1e-3)
    for a, b in zip(fused_grads, plain_grads):
        assert a.dtype == b.dtype == torch.float32
        assert (a - b).norm() / b.norm() < 0.02
