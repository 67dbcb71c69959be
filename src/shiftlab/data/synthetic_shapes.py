"""Random shapes on textured, noisy backgrounds: a segmentation task that needs no download.

Classes: 0 background, 1 circle, 2 rectangle, 3 triangle. Each shape's colour is drawn from a
hue family of its class (reddish circles, greenish rectangles, bluish triangles) whose ranges
overlap, with random saturation and brightness; backgrounds are textured in any colour. Colour
alone is therefore ambiguous and a model must also learn the shapes, yet a small network
learns the task from scratch in minutes on a CPU. Each image depends only on
``(seed, index)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPE_CLASSES: tuple[str, ...] = ("background", "circle", "rectangle", "triangle")


@dataclass(frozen=True)
class ShapesSynthesis:
    """Parameters of the generator."""

    size: int = 64
    min_shapes: int = 1
    max_shapes: int = 3
    noise: float = 8.0  # standard deviation of the pixel noise, on the 0–255 scale
    texture: float = 15.0  # amplitude of the background's waves, on the 0–255 scale

    def sample(self, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(image, mask)``: H×W×3 uint8 and H×W uint8 class indices."""
        rng = np.random.default_rng([seed, index])
        yy, xx = np.mgrid[0 : self.size, 0 : self.size].astype(np.float32) / self.size
        image = self._background(rng, yy, xx)
        mask = np.zeros((self.size, self.size), dtype=np.uint8)
        for _ in range(int(rng.integers(self.min_shapes, self.max_shapes + 1))):
            label = int(rng.integers(1, len(SHAPE_CLASSES)))
            inside = self._shape(rng, label, yy, xx)
            colour = _class_colour(rng, label)
            shade = 1 + 0.15 * np.sin(rng.uniform(5, 15) * (xx + yy))[..., None]
            image[inside] = (colour * shade)[inside]
            mask[inside] = label
        image += rng.normal(0, self.noise, size=image.shape)
        return np.clip(image, 0, 255).astype(np.uint8), mask

    def _background(self, rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        base = rng.uniform(40, 215, size=3)
        texture = np.zeros_like(yy)
        for _ in range(3):  # a few random waves: stripes and blotches
            fy, fx = rng.uniform(-12, 12, size=2)
            texture += np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 6.3))
        tint = rng.uniform(-self.texture, self.texture, size=3)
        return (base + tint * texture[..., None]).astype(np.float32)

    def _shape(self, rng: np.random.Generator, label: int, yy: np.ndarray, xx: np.ndarray):
        cy, cx = rng.uniform(0.2, 0.8, size=2)
        if label == 1:  # circle
            r = rng.uniform(0.1, 0.22)
            return (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        if label == 2:  # rectangle
            h, w = rng.uniform(0.08, 0.2, size=2)
            return (np.abs(yy - cy) < h) & (np.abs(xx - cx) < w)
        # triangle: three vertices around the centre, at least a third of a turn apart
        angles = rng.uniform(0, 2 * np.pi) + np.array([0, 2.1, 4.2]) + rng.uniform(-0.3, 0.3, 3)
        radius = rng.uniform(0.15, 0.28)
        vy, vx = cy + radius * np.sin(angles), cx + radius * np.cos(angles)
        signs = [
            (xx - vx[i]) * (vy[(i + 1) % 3] - vy[i]) - (yy - vy[i]) * (vx[(i + 1) % 3] - vx[i])
            for i in range(3)
        ]
        return ((signs[0] >= 0) & (signs[1] >= 0) & (signs[2] >= 0)) | (
            (signs[0] <= 0) & (signs[1] <= 0) & (signs[2] <= 0)
        )


HUE_CENTRES = {1: 0.0, 2: 1 / 3, 3: 2 / 3}  # red, green, blue families
HUE_SPREAD = 0.18  # ± around the centre: neighbouring families overlap a little


def _class_colour(rng: np.random.Generator, label: int) -> np.ndarray:
    """An RGB colour (0–255) from the hue family of ``label``."""
    import colorsys

    hue = (HUE_CENTRES[label] + rng.uniform(-HUE_SPREAD, HUE_SPREAD)) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, rng.uniform(0.5, 1.0), rng.uniform(0.4, 1.0))
    return 255 * np.array(rgb)
