"""The renderer behind both synthetic sets: textured, saturated objects moving smoothly (translation, rotation,
scale) over a panning, low-saturation textured background, occluding each other and passing behind a
background-coloured bar, with some frames degraded (noise, blur or dropped contrast) so that they are ambiguous
alone while their neighbours are clean."""
from __future__ import annotations

import colorsys
import json
import os
from collections.abc import Mapping

import cv2
import numpy as np

from vos_eval.davis_format import VOID_ID

__all__ = ["check_set_arguments", "render_scene", "render_sequence", "write_marker"]


def check_set_arguments(counts: Mapping[str, int], unit: str, frames: int | None, height: int, width: int) -> None:
    """The arguments both generators check: per-split counts of ``unit`` (at least one in all), frames per
    sequence, frame size (the renderer needs 16x16 pixels); a ValueError naming the bad one."""
    if any(n < 0 for n in counts.values()) or sum(counts.values()) == 0:
        raise ValueError(f"need at least one {unit}, got " + " ".join(f"{k}={n}" for k, n in counts.items()))
    if frames is not None and frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if height < 16 or width < 16:
        raise ValueError(f"frames must be at least 16x16 pixels, got {width}x{height}")


def write_marker(folder: str, name: str, params: Mapping) -> None:
    """The file that marks a generated set complete and records how it was generated (written last)."""
    with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
        json.dump(params, f, indent=2, sort_keys=True)
        f.write("\n")


_SHAPES = ("ellipse", "rectangle", "triangle", "star", "blob")
_DEGRADATIONS = ("noise", "blur", "contrast")


def _shape_polygon(rng: np.random.Generator, shape: str, radius: float) -> np.ndarray:
    """Outline of a shape in its own coordinates (N, 2), centred on the origin."""
    theta = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
    if shape == "ellipse":
        aspect = rng.uniform(0.55, 0.85)
        return np.stack([radius * np.cos(theta), radius * aspect * np.sin(theta)], axis=1)
    if shape == "rectangle":
        half_w, half_h = radius, radius * rng.uniform(0.5, 0.8)
        return np.array([[-half_w, -half_h], [half_w, -half_h], [half_w, half_h], [-half_w, half_h]])
    if shape == "triangle":
        angles = np.array([-np.pi / 2, np.pi / 6, 5 * np.pi / 6])
        return np.stack([radius * 1.1 * np.cos(angles), radius * 1.1 * np.sin(angles)], axis=1)
    if shape == "star":
        points = int(rng.integers(5, 7))
        angles = np.linspace(0.0, 2.0 * np.pi, 2 * points, endpoint=False)
        radii = np.where(np.arange(2 * points) % 2 == 0, radius * 1.1, radius * 0.55)
        return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    harmonics = rng.uniform(-0.12, 0.12, size=(3, 2))
    radii = radius * (1.0 + sum(a * np.cos((k + 2) * theta) + b * np.sin((k + 2) * theta)
                                for k, (a, b) in enumerate(harmonics)))
    return np.stack([radii * np.cos(theta), radii * np.sin(theta)], axis=1)


def _saturated_colour(hue: float, rng: np.random.Generator) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, rng.uniform(0.75, 1.0), rng.uniform(0.8, 1.0))) * 255.0


class _MovingObject:
    """One textured object and its smooth trajectory over a sequence."""

    def __init__(self, rng: np.random.Generator, hue: float, num_frames: int, height: int, width: int):
        self.shape = str(rng.choice(_SHAPES))
        self.radius = rng.uniform(0.15, 0.24) * min(height, width)
        self.polygon = _shape_polygon(rng, self.shape, self.radius)
        self.colour = _saturated_colour(hue, rng)
        self.stripe_colour = self.colour * rng.uniform(0.35, 0.6)
        self.stripe_period = rng.uniform(5.0, 9.0)
        stripe_angle = rng.uniform(0.0, np.pi)
        self.stripe_dir = np.array([np.cos(stripe_angle), np.sin(stripe_angle)])
        self.checker = bool(rng.random() < 0.3)
        margin = 0.6 * self.radius
        self.start = np.array([rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)])
        self.end = np.array([rng.uniform(margin, width - margin), rng.uniform(margin, height - margin)])
        self.wobble = rng.uniform(2.0, 8.0, size=2)
        self.wobble_freq = rng.uniform(0.5, 1.5)
        self.wobble_phase = rng.uniform(0.0, 2.0 * np.pi, size=2)
        self.angle0 = rng.uniform(0.0, 2.0 * np.pi)
        self.spin = np.deg2rad(rng.uniform(-5.0, 5.0))
        self.scale_amp = rng.uniform(0.0, 0.18)
        self.scale_phase = rng.uniform(0.0, 2.0 * np.pi)
        self.num_frames = num_frames

    def pose(self, t: int) -> tuple[np.ndarray, float, float]:
        """Centre (x, y), rotation (radians) and scale at frame t."""
        u = t / max(1, self.num_frames - 1)
        phase = 2.0 * np.pi * self.wobble_freq * u
        centre = self.start + (self.end - self.start) * u + self.wobble * np.sin(phase + self.wobble_phase)
        scale = 1.0 + self.scale_amp * np.sin(2.0 * np.pi * u + self.scale_phase)
        return centre, self.angle0 + self.spin * t, scale

    def render(self, t: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """(bool mask, float RGB appearance) of the object at frame t, full frame."""
        centre, angle, scale = self.pose(t)
        rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        outline = (self.polygon * scale) @ rot.T + centre
        mask = np.zeros((height, width), dtype=np.uint8)
        cv2.fillPoly(mask, [np.round(outline * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
        local = np.stack([xs - centre[0], ys - centre[1]], axis=-1) @ rot / scale
        stripes = np.sin(2.0 * np.pi * (local @ self.stripe_dir) / self.stripe_period) > 0
        if self.checker:
            stripes ^= np.sin(2.0 * np.pi * local[..., 0] / (1.7 * self.stripe_period)) > 0
        shading = np.clip(1.0 + 0.25 * local[..., 0] / self.radius, 0.75, 1.25)[..., None]
        appearance = np.where(stripes[..., None], self.colour, self.stripe_colour) * shading
        return mask.astype(bool), appearance


def _background_canvas(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A low-saturation textured canvas (float RGB), larger than the frame so the camera can pan over it."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    grey = rng.uniform(70.0, 170.0)
    tint = rng.uniform(-18.0, 18.0, size=3)
    texture = np.zeros((height, width), dtype=np.float32)
    for _ in range(4):
        period = rng.uniform(8.0, 40.0)
        direction = rng.uniform(0.0, np.pi)
        texture += rng.uniform(6.0, 18.0) * np.sin(
            2.0 * np.pi * (xs * np.cos(direction) + ys * np.sin(direction)) / period + rng.uniform(0, 2 * np.pi)
        )
    blotches = cv2.GaussianBlur(rng.normal(0.0, 1.0, (height, width)).astype(np.float32), (0, 0), 5.0)
    texture += 22.0 * blotches / (blotches.std() + 1e-6)
    channel_gain = rng.uniform(0.85, 1.15, size=3)
    return grey + tint + texture[..., None] * channel_gain


def _degrade(rng: np.random.Generator, image: np.ndarray, kind: str) -> np.ndarray:
    """Make one frame ambiguous on its own: heavy noise, strong blur or nearly no contrast."""
    if kind == "noise":
        return image + rng.normal(0.0, rng.uniform(40.0, 60.0), image.shape)
    if kind == "blur":
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(2.5, 4.0)).astype(np.float64)
    mean = image.mean(axis=(0, 1), keepdims=True)
    return mean + rng.uniform(0.12, 0.25) * (image - mean) + rng.uniform(-30.0, 30.0)


def _degraded_frames(rng: np.random.Generator, num_frames: int) -> dict[int, str]:
    """Frames to degrade (never the first, never two in a row) and how."""
    degraded: dict[int, str] = {}
    t = 1
    while t < num_frames:
        if rng.random() < 0.18:
            degraded[t] = str(rng.choice(_DEGRADATIONS))
            t += 2
        else:
            t += 1
    return degraded


def _add_void(rng: np.random.Generator, ids: np.ndarray, object_id: int) -> None:
    """Mark a short run of an object's border pixels as void (255), in place."""
    mask = (ids == object_id).astype(np.uint8)
    border = mask & ~cv2.erode(mask, np.ones((3, 3), np.uint8))
    ys, xs = np.nonzero(border)
    if len(ys) == 0:
        return
    pick = int(rng.integers(len(ys)))
    near = (ys - ys[pick]) ** 2 + (xs - xs[pick]) ** 2 <= 9
    ids[ys[near], xs[near]] = VOID_ID


def render_sequence(
    rng: np.random.Generator, num_frames: int, height: int, width: int
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[dict]]:
    """Render one sequence: uint8 RGB frames, 2017 id maps (with void), 2016 binary masks (0/255) and frame tags.

    A frame's tags: ``degraded`` (the degradation applied: "noise", "blur", "contrast", or None) and ``occluded``
    (per object 1..K, the fraction of its full shape hidden by other objects or the bar; 1.0 if it is off-frame).
    """
    frames, ids_2017, masks_2016, tags, _ = render_scene(rng, num_frames, height, width)
    return frames, ids_2017, masks_2016, tags


def render_scene(
    rng: np.random.Generator,
    num_frames: int,
    height: int,
    width: int,
    *,
    num_objects: int | None = None,
    enter_frames: list[int] | None = None,
    void: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list[dict], list[str]]:
    """:func:`render_sequence` with options, also returning each object's shape name (object id k -> [k - 1]).

    num_objects: how many objects (default: 1-3, drawn); enter_frames: per object, the first frame it is drawn in
    (default: all from frame 0; before it the object is absent from frames and masks); void=False: no void pixels
    in the id maps. With the defaults it draws exactly what render_sequence draws.
    """
    pad_x, pad_y = width // 3, height // 3
    canvas = _background_canvas(rng, height + 2 * pad_y, width + 2 * pad_x)
    pan_start = rng.uniform([0, 0], [2 * pad_x, 2 * pad_y])
    pan_end = rng.uniform([0, 0], [2 * pad_x, 2 * pad_y])
    if num_objects is None:
        num_objects = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    if enter_frames is not None and len(enter_frames) != num_objects:
        raise ValueError(f"enter_frames needs one frame per object ({num_objects}), got {enter_frames}")
    hue0 = rng.random()
    objects = [
        _MovingObject(rng, hue0 + k / num_objects + rng.uniform(-0.05, 0.05), num_frames, height, width)
        for k in range(num_objects)
    ]
    occluder = None
    if rng.random() < 0.5:
        occluder = {
            "x0": rng.uniform(-0.1, 0.3) * width,
            "x1": rng.uniform(0.7, 1.1) * width,
            "half_width": rng.uniform(4.0, 7.0),
            "tilt": rng.uniform(-0.3, 0.3),
            "shade": rng.uniform(0.6, 1.3),
        }
        if rng.random() < 0.5:
            occluder["x0"], occluder["x1"] = occluder["x1"], occluder["x0"]
    degraded = _degraded_frames(rng, num_frames)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)

    frames, ids_2017, masks_2016, tags = [], [], [], []
    for t in range(num_frames):
        u = t / max(1, num_frames - 1)
        ox, oy = np.round(pan_start + (pan_end - pan_start) * u).astype(int)
        image = canvas[oy : oy + height, ox : ox + width].copy()
        ids = np.zeros((height, width), dtype=np.uint8)
        full_areas = []
        for object_id, obj in enumerate(objects, start=1):
            if enter_frames is not None and t < enter_frames[object_id - 1]:
                full_areas.append(0)
                continue
            mask, appearance = obj.render(t, height, width)
            image[mask] = appearance[mask]
            ids[mask] = object_id
            full_areas.append(int(mask.sum()))
        if occluder is not None:
            bar_x = occluder["x0"] + (occluder["x1"] - occluder["x0"]) * u + occluder["tilt"] * (ys - height / 2)
            bar = np.abs(xs - bar_x) <= occluder["half_width"]
            image[bar] = canvas[:height, :width][bar] * occluder["shade"]
            ids[bar] = 0
        image = image + rng.normal(0.0, 3.0, image.shape)
        if t in degraded:
            image = _degrade(rng, image, degraded[t])
        frames.append(np.clip(np.round(image), 0, 255).astype(np.uint8))
        masks_2016.append(np.where(ids > 0, 255, 0).astype(np.uint8))
        visible = np.bincount(ids.ravel(), minlength=num_objects + 1)[1:]
        tags.append({
            "degraded": degraded.get(t),
            "occluded": [round(1.0 - v / a, 4) if a else 1.0 for v, a in zip(visible.tolist(), full_areas)],
        })
        if void:
            for object_id in range(1, num_objects + 1):
                if rng.random() < 0.3:
                    _add_void(rng, ids, object_id)
        ids_2017.append(ids)
    return frames, ids_2017, masks_2016, tags, [obj.shape for obj in objects]
