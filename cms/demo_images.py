"""Pictures for the demo site, drawn here (so they are ours to use): simple,
warm illustrations of homes, families and hills in the charity's colours."""

import io
import random

from django.core.files.images import ImageFile
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter

PALETTES = [
    ((11, 110, 79), (246, 239, 227), (194, 65, 12), (252, 217, 189)),
    ((15, 82, 87), (255, 244, 236), (234, 179, 8), (167, 215, 193)),
    ((120, 53, 15), (254, 243, 199), (11, 110, 79), (251, 191, 36)),
]


def draw_scene(seed: int, width: int = 1600, height: int = 900) -> bytes:
    rng = random.Random(seed)
    deep, light, accent, soft = PALETTES[seed % len(PALETTES)]
    image = PILImage.new("RGB", (width, height), light)
    draw = ImageDraw.Draw(image)
    for y in range(height):  # a warm sky
        t = y / height
        draw.line([(0, y), (width, y)], fill=tuple(int(light[i] * (1 - t) + soft[i] * t) for i in range(3)))
    draw.ellipse([width * 0.7, height * 0.08, width * 0.7 + 180, height * 0.08 + 180], fill=accent)
    for layer in range(3):  # hills
        base = height * (0.55 + layer * 0.12)
        points = [(0, height)]
        for x in range(0, width + 80, 80):
            points.append((x, base + 40 * rng.random() - 20 * layer))
        points.append((width, height))
        shade = tuple(max(0, c - 25 * layer) for c in deep)
        draw.polygon(points, fill=shade)
    for _ in range(rng.randint(3, 6)):  # houses with lit windows
        x, y = rng.randint(80, width - 260), int(height * rng.uniform(0.55, 0.72))
        w, h = rng.randint(120, 180), rng.randint(90, 130)
        draw.rectangle([x, y, x + w, y + h], fill=light)
        draw.polygon([(x - 12, y), (x + w / 2, y - h * 0.6), (x + w + 12, y)], fill=accent)
        draw.rectangle([x + w * 0.2, y + h * 0.3, x + w * 0.4, y + h * 0.55], fill=(251, 191, 36))
        draw.rectangle([x + w * 0.6, y + h * 0.45, x + w * 0.8, y + h], fill=deep)
    for _ in range(rng.randint(2, 4)):  # a family: one tall, one small figure
        x, y = rng.randint(100, width - 100), int(height * 0.86)
        for scale in (1.0, 0.6):
            r = 22 * scale
            draw.ellipse([x - r, y - 150 * scale - r, x + r, y - 150 * scale + r], fill=(60, 40, 30))
            draw.rounded_rectangle([x - 28 * scale, y - 125 * scale, x + 28 * scale, y], radius=int(18 * scale), fill=accent)
            x += 70
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def demo_image(title: str, seed: int, description: str):
    from wagtail.images.models import Image

    existing = Image.objects.filter(title=title).first()
    if existing:
        return existing
    data = draw_scene(seed)
    image = Image(title=title, description=description)
    image.file = ImageFile(io.BytesIO(data), name=f"demo-{seed}.jpg")
    image.save()
    return image
