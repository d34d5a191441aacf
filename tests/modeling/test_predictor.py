"""VideoPredictor: loads weights, resizes like Detectron2's test-time input, honours INPUT.FORMAT, streams frames."""
import numpy as np
import pytest
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.modeling import build_model
from tiny import tiny_cfg

from slowfast_vos.modeling import VideoPredictor

# Frames at twice the tiny test size: ResizeShortestEdge(64, 96) brings them to 64x96.
HEIGHT, WIDTH = 128, 192


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> str:
    """A checkpoint of a randomly initialised tiny 1-3 model (the predictor must load it, not re-initialise)."""
    torch.manual_seed(1)
    model = build_model(tiny_cfg(1, 3))
    folder = tmp_path_factory.mktemp("weights")
    DetectionCheckpointer(model, save_dir=str(folder)).save("tiny")
    return str(folder / "tiny.pth")


def bgr_video(length: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(length)]


def make_predictor(weights: str, input_format: str = "BGR") -> VideoPredictor:
    cfg = tiny_cfg(1, 3)
    cfg.MODEL.WEIGHTS = weights
    cfg.INPUT.FORMAT = input_format
    return VideoPredictor(cfg)


def test_loads_weights_and_is_in_eval_mode(weights):
    predictor = make_predictor(weights)
    saved = torch.load(weights, map_location="cpu", weights_only=False)["model"]
    state = predictor.model.state_dict()
    assert saved.keys() == state.keys()
    assert all(torch.equal(state[k], saved[k]) for k in saved)
    assert not predictor.model.training


def test_yields_cpu_instances_at_original_size_from_resized_input(weights):
    predictor = make_predictor(weights)
    sizes = []
    predictor.model.backbone.register_forward_pre_hook(lambda m, args: sizes.append(tuple(args[0].shape)))
    outputs = list(predictor(bgr_video(4)))
    assert sizes == [(1, 3, 64, 96)] * 4  # one backbone pass per frame, at the test-time size
    assert len(outputs) == 4
    for inst in outputs:
        assert inst.image_size == (HEIGHT, WIDTH)
        assert inst.pred_masks.shape[1:] == (HEIGHT, WIDTH) and inst.pred_masks.device.type == "cpu"
        assert 0 < len(inst) <= 10


def test_matches_model_inference_video_at_test_size(weights):
    """Frames already at the test size pass through unresized: the predictor is then exactly inference_video."""
    predictor = make_predictor(weights)
    video = [f[::2, ::2].copy() for f in bgr_video(3)]  # 64x96
    frames = [{"image": torch.as_tensor(f.transpose(2, 0, 1).copy())} for f in video]
    with torch.no_grad():
        expected = [o["instances"] for o in predictor.model.inference_video(frames)]
    outputs = list(predictor(video))
    assert len(outputs) == len(expected) == 3
    for inst, exp in zip(outputs, expected):
        assert inst.image_size == exp.image_size == (64, 96)
        torch.testing.assert_close(inst.scores, exp.scores)
        torch.testing.assert_close(inst.pred_boxes.tensor, exp.pred_boxes.tensor)
        assert torch.equal(inst.pred_masks, exp.pred_masks)


def test_input_format_controls_channel_order(weights):
    video = bgr_video(3)
    bgr = list(make_predictor(weights, "BGR")(video))
    rgb = list(make_predictor(weights, "RGB")([f[:, :, ::-1] for f in video]))
    assert len(bgr) == len(rgb) == 3
    for a, b in zip(bgr, rgb):
        torch.testing.assert_close(a.scores, b.scores)
        torch.testing.assert_close(a.pred_boxes.tensor, b.pred_boxes.tensor)


def test_consumes_frames_lazily(weights):
    predictor = make_predictor(weights)
    pulled = []

    def frames():
        for frame in bgr_video(5):
            pulled.append(frame)
            yield frame

    outputs = 0
    for t, _ in enumerate(predictor(frames())):
        assert len(pulled) == min(t + 2, 5)  # n = 3: frame t needs frame t + 1
        outputs += 1
    assert outputs == 5


def test_rejects_bad_frames(weights):
    predictor = make_predictor(weights)
    with pytest.raises(ValueError, match="frame 1 must be an HxWx3 uint8"):
        list(predictor([bgr_video(1)[0], np.zeros((HEIGHT, WIDTH), np.uint8)]))


def test_rejects_non_video_architecture(weights):
    cfg = tiny_cfg(1, 3)
    cfg.MODEL.META_ARCHITECTURE = "GeneralizedRCNN"
    with pytest.raises(ValueError, match="SlowFastRCNN"):
        VideoPredictor(cfg)
