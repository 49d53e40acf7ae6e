"""What the run's starting weights recognise: their top ImageNet classes on photos bundled with scikit-image."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torchvision
from PIL import Image

from moede.models.mobilenet import use_padding
from moede.models.pretrained import Initialisation


def bundled_photos(size: int = 224) -> dict[str, np.ndarray]:
    """scikit-image's bundled colour photos (no download), centre-cropped to squares of `size` (RGB uint8)."""
    from skimage import data

    photos = {"astronaut": data.astronaut(), "chelsea (a cat)": data.chelsea(), "coffee": data.coffee(),
              "rocket": data.rocket()}
    out = {}
    for name, photo in photos.items():
        side = min(photo.shape[:2])
        top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
        square = Image.fromarray(photo[top:top + side, left:left + side]).resize((size, size), Image.BILINEAR)
        out[name] = np.asarray(square)
    return out


@torch.no_grad()
def imagenet_predictions(init: Initialisation, photos: dict[str, np.ndarray], top: int = 3) -> pd.DataFrame:
    """Top-`top` ImageNet classes (with probabilities, %) of the 1000-class model `init` starts from, per photo."""
    state = init.state_dict()
    if state is None:
        raise ValueError("a random initialisation has no ImageNet classes to show")
    model = torchvision.models.mobilenet_v2(weights=None)
    model.load_state_dict(state)
    model = use_padding(model, init.padding).eval()
    categories = torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"]
    batch = torch.stack([torch.from_numpy(p.copy()).permute(2, 0, 1) for p in photos.values()]).float() / 255.0
    probabilities = torch.softmax(model(init.normalisation.apply(batch)), dim=1)
    values, indices = probabilities.topk(top, dim=1)
    rows = {name: {f"top {k + 1}": f"{categories[int(i)]} ({100 * float(v):.0f}%)"
                   for k, (v, i) in enumerate(zip(value, index))}
            for name, value, index in zip(photos, values, indices)}
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("photo")
    table.attrs["source"] = f"scikit-image's bundled photos; weights: {init.describe()}"
    return table
