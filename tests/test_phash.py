import imagehash
import numpy as np
from PIL import Image

from foldwise import phash


def random_images(n, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)
    out = []
    for i in range(n):  # noisy variants of one image and fresh images: small and large distances
        noise = rng.integers(-40, 40, base.shape) if i % 2 else rng.integers(-255, 255, base.shape)
        out.append(np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8))
    return out


def test_uint64_keeps_every_bit():
    h = imagehash.phash(Image.fromarray(random_images(1)[0][:, :, 0]))
    bits = phash.to_uint64(h)
    assert bin(int(bits)).count("1") == int(h.hash.sum())
    assert (
        np.unpackbits(np.array([bits]).astype(">u8").view(np.uint8)).astype(bool).tolist() == h.hash.flatten().tolist()
    )


def test_hamming_matches_imagehash_difference():
    images = random_images(6)
    ours = np.stack([phash.hash_channels(img) for img in images])
    dist = phash.hamming(ours, ours)
    assert dist.shape == (6, 6, 3)
    for i in range(6):
        for j in range(6):
            for c in range(3):
                expected = imagehash.phash(Image.fromarray(images[i][:, :, c])) - imagehash.phash(
                    Image.fromarray(images[j][:, :, c])
                )
                assert dist[i, j, c] == expected
    assert dist.max() > 10  # the case is not trivial: some pairs differ a lot


def test_hash_manifest_one_column_per_channel(demo_manifest):
    from foldwise import manifest

    hashes = phash.hash_manifest(demo_manifest.head(12), manifest.channels(demo_manifest), threads=2)
    assert phash.hash_columns(hashes) == ["hash:r", "hash:g", "hash:b"]
    assert hashes["hash:r"].dtype == np.uint64
    serial = phash.hash_manifest(demo_manifest.head(12), manifest.channels(demo_manifest), threads=1)
    assert hashes.equals(serial)
