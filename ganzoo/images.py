"""Pictures of samples: float images to uint8, image grids, scatter plots, PNG files.

numpy only at import time (matplotlib and PIL are imported when a picture is drawn or
written), so the export runtime can use `to_uint8` without Keras or TensorFlow.
"""

import math

import numpy as np

from ganzoo.fileio import atomic_write


def to_uint8(images):
    """float images in [-1, 1] -> uint8 in [0, 255], exactly as the exported graphs do.

    round((x + 1) * 127.5), clipped; numpy, TF and ONNX all round half to even.
    """
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + np.float32(1.0)) * np.float32(127.5)), 0, 255).astype(np.uint8)


def image_grid(images, columns=None):
    """Tile (n, H, W, C) images in [-1, 1] into one uint8 (rows*H, cols*W, C) picture."""
    images = np.asarray(images, "float32")
    n, h, w, c = images.shape
    columns = columns or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / columns))
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, c), -1.0, "float32")
    for i, img in enumerate(images):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + col * (w + 1): 1 + col * (w + 1) + w] = img
    return to_uint8(grid)  # the exports' own conversion, so grids and images_uint8 agree


def scatter_picture(points, reference=None, size=480):
    """A uint8 (size, size, 3) scatter plot of 2-D samples (and reference points in grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(size / 100, size / 100), dpi=100)
    ax = fig.add_axes([0.08, 0.08, 0.88, 0.88])
    if reference is not None:
        ax.scatter(reference[:, 0], reference[:, 1], s=2, c="0.7", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", label="G(z)")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    fig.canvas.draw()
    picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return picture


def sample_picture(samples, reference=None, columns=None):
    """uint8 picture of samples: a grid for images (`columns` wide, default square), a scatter
    plot for 2-D points."""
    samples = np.asarray(samples)
    if samples.ndim == 4:
        return image_grid(samples, columns)
    if samples.ndim == 2 and samples.shape[1] == 2:
        return scatter_picture(samples, reference)
    raise ValueError(f"Cannot draw samples of shape {samples.shape}: expected (n, H, W, C) or (n, 2).")


def write_png(picture, path):
    """Write a uint8 picture as a PNG file, atomically (whatever `path`'s extension)."""
    from PIL import Image

    picture = np.asarray(picture)
    if picture.ndim == 3 and picture.shape[2] == 1:
        picture = picture[..., 0]
    atomic_write(path, lambda tmp: Image.fromarray(picture).save(tmp, format="PNG"))
