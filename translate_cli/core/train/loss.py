"""The training loss: label-smoothed cross-entropy fused with the output projection, in row chunks.

The (N, V) logits of a whole batch are never materialised: each chunk of rows is projected, turned
into its loss and its gradient while it is still in cache, and dropped. Gradients are computed in the
forward pass (the loss is always the last node of the graph) and scaled by the incoming gradient in
backward. Same result as F.cross_entropy(hidden @ weight.T [+ bias], targets, label_smoothing=s, reduction="sum").
The optional bias (Marian's fixed output bias) is a constant: it gets no gradient.
"""

from __future__ import annotations

import torch

from translate_cli.core.data import Batch


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, smoothing: float,
                chunk: int, bias: torch.Tensor | None = None) -> torch.Tensor:
        vocab = weight.size(0)
        ctx.weight_dtype = weight.dtype
        need_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        grad_hidden = torch.empty_like(hidden) if need_grad else None
        accumulate = torch.promote_types(weight.dtype, torch.float32)  # fp32 sums for bf16/fp16 weights
        grad_weight = torch.zeros(weight.shape, dtype=accumulate, device=weight.device) if need_grad else None
        total = torch.zeros((), dtype=accumulate, device=hidden.device)
        low_precision = _autocast_dtype(hidden.device.type)
        for start in range(0, hidden.size(0), chunk):
            rows = hidden[start:start + chunk]
            gold = targets[start:start + chunk, None]
            logits = rows @ weight.t()  # (c, V)
            if bias is not None:
                logits = logits + bias
            # Shifted by the row maximum in place: the loss is the same for any shift, the exponentials stay
            # finite, and the exponentials computed for the loss are the gradient's softmax too (one pass).
            logits = logits.to(accumulate)
            logits.sub_(logits.amax(dim=1, keepdim=True))
            gold_logits = logits.gather(1, gold).squeeze(1)
            logit_sums = logits.sum(1)
            probs = logits.exp_()  # unnormalised
            norm = probs.sum(1, keepdim=True)  # (c, 1)
            # -log p(gold) smoothed: (1-s) * (lse - x_gold) + s * (lse - mean_v x_v)
            total += (norm.log().squeeze(1) - (1 - smoothing) * gold_logits - (smoothing / vocab) * logit_sums).sum()
            if need_grad:
                # d loss / d logits = softmax - (1-s) * onehot(gold) - s/V, built in place.
                grad = probs.mul_(norm.reciprocal_()).sub_(smoothing / vocab)
                grad.scatter_add_(1, gold, torch.full(gold.shape, smoothing - 1.0, dtype=grad.dtype, device=grad.device))
                grad_hidden[start:start + chunk] = grad.to(hidden.dtype) @ weight
                if low_precision is not None:  # as autocast would: the product in bf16/fp16, summed in fp32
                    grad_weight += torch.mm(grad.t().to(low_precision), rows.to(low_precision))
                else:
                    grad_weight.addmm_(grad.t(), rows.to(accumulate))
        ctx.save_for_backward(grad_hidden, grad_weight)
        return total

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        return (grad_hidden * grad_output.to(grad_hidden.dtype), (grad_weight * grad_output).to(ctx.weight_dtype),
                None, None, None, None)


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    """The low precision autocast runs matrix products in on this device now, if it is on."""
    if device_type in ("cpu", "cuda") and torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                         label_smoothing: float = 0.0, chunk: int = 1024,
                         bias: torch.Tensor | None = None) -> torch.Tensor:
    """Summed label-smoothed cross-entropy of softmax(hidden @ weight.T + bias) against targets.

    hidden (N, D), weight (V, D), targets (N,), bias (V,) or None -> scalar sum over the N rows.
    """
    return _LinearCrossEntropy.apply(hidden, weight, targets, label_smoothing, chunk,
                                     None if bias is None else bias.detach())


def loss_sum(model: torch.nn.Module, batch: Batch, label_smoothing: float,
             output_weight: torch.Tensor | None = None, output_bias: torch.Tensor | None = None) -> torch.Tensor:
    """Summed label-smoothed cross-entropy over the real (non-pad) target positions, all at once.

    `model` may be a wrapper (DDP, torch.compile); `output_weight` (and `output_bias`, for models with one)
    are then the tied embedding matrix (and the output bias) of the model inside.
    """
    hidden = model(batch.source, batch.target_in)  # (B, T, D)
    # (N, D): only real positions reach the vocabulary matmul; gathered by a host-computed index, so no
    # device-to-host synchronisation (a boolean mask would need one to size its result).
    hidden = hidden.reshape(-1, hidden.size(-1)).index_select(0, batch.positions)
    gold = batch.target_out.reshape(-1).index_select(0, batch.positions)
    if output_weight is None:
        output_weight, output_bias = model.embedding.weight, model.output_bias
    return linear_cross_entropy(hidden, output_weight, gold, label_smoothing, bias=output_bias)
