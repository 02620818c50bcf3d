// A deterministic grayscale test picture for low-rank compression (drawn procedurally, so no image file and
// no licence): a sky gradient, a sun, two mountain ridges and a striped lake. Its horizontal bands are
// nearly rank-1; the sun's disk and the slopes' diagonal edges are what needs more singular values.
// Values in [0, 1] (0 = black), row 0 at the top; the picture is size×size.

export function demoPicture(size = 96): number[][] {
  if (!Number.isInteger(size) || size < 16) {
    throw new Error(`size must be an integer >= 16, got ${String(size)}: use e.g. 96`);
  }
  const img: number[][] = [];
  for (let i = 0; i < size; i++) {
    const y = i / (size - 1); // 0 at the top, 1 at the bottom
    const row: number[] = [];
    for (let j = 0; j < size; j++) {
      const x = j / (size - 1);
      let v = 0.85 - 0.45 * y; // sky: light at the top, darker towards the horizon
      const sun = Math.hypot(x - 0.72, y - 0.22);
      if (sun < 0.1) v = 0.98;
      else if (sun < 0.13) v = Math.max(v, 0.98 - (sun - 0.1) * 8); // soft rim
      const far = 0.5 - 0.22 * Math.max(0, 1 - Math.abs(x - 0.3) / 0.35); // far ridge, peak at x = 0.3
      if (y > far) v = 0.45;
      const near = 0.62 - 0.2 * Math.max(0, 1 - Math.abs(x - 0.78) / 0.3); // near ridge, peak at x = 0.78
      if (y > near) v = 0.25 + 0.1 * Math.sin(18 * x + 6 * y); // with a little texture
      if (y > 0.72) v = 0.6 - 0.3 * ((y - 0.72) / 0.28) + 0.1 * (Math.floor(y * 48) % 2); // lake: ripples
      row.push(Math.min(1, Math.max(0, v)));
    }
    img.push(row);
  }
  return img;
}
