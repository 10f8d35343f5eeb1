"""Fixed sinusoidal position encodings in the three layouts tcli's models use (ModelConfig.position_table)."""

from __future__ import annotations

import math

import torch


def sinusoidal_positions(length: int, dim: int, offset: int = 0) -> torch.Tensor:
    """(length, dim) fixed position encodings of Vaswani et al. (2017), positions offset..offset+length-1."""
    position = torch.arange(offset, offset + length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


def position_table(kind: str, length: int, dim: int, offset: int = 0) -> torch.Tensor:
    """(length, dim) fixed position encodings for positions offset..offset+length-1, in one of three layouts:

    interleaved  tcli: sin/cos of the same frequency in adjacent columns (Vaswani et al., 2017)
    halves       Marian: the same frequencies, all sines first, then all cosines
    fairseq      M2M100/NLLB (tensor2tensor): sines then cosines of exp(-i ln(10000) / (D/2 - 1))
    """
    if kind == "interleaved":
        return sinusoidal_positions(length, dim, offset)
    if kind == "halves":  # computed in float64, as Marian's table is, then rounded once
        position = torch.arange(offset, offset + length, dtype=torch.float64).unsqueeze(1)
        frequency = torch.pow(10000.0, -torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        sines = dim - dim // 2
        return torch.cat([torch.sin(position * frequency[:sines]), torch.cos(position * frequency[:dim // 2])],
                         dim=1).float()
    assert kind == "fairseq", kind
    half = dim // 2
    frequency = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000.0) / (half - 1)))
    angles = torch.arange(offset, offset + length, dtype=torch.float32).unsqueeze(1) * frequency.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)
    return torch.cat([table, torch.zeros(length, 1)], dim=1) if dim % 2 else table
