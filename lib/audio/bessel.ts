/**
 * The modified Bessel function I0, twice: exactly (float64), and the way `torch.i0` computes it on a float32
 * CPU tensor. The second exists because torchaudio's Kaiser window divides by `torch.i0(torch.tensor(beta))`,
 * a float32 scalar even when the waveform is float64, so its float64 filters carry that float32 normaliser.
 * Reproducing it keeps our float64 output within 1e-9 of torchaudio's instead of ~1e-7.
 */

/** I0(x) by its power series: every term is positive, so the sum is accurate to about one ulp. */
export function besselI0(x: number): number {
  const q = (x * x) / 4;
  let term = 1;
  let sum = 1;
  for (let k = 1; k < 10000; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

// Cephes chebyshev coefficients of exp(-x) I0(x) on [0, 8] and of exp(-x) sqrt(x) I0(x) on (8, inf), as
// PyTorch's aten/src/ATen/native/Math.h holds them (`chebyshev_coefficients_i0e_A/B`); torch instantiates the
// table at T = float, so the coefficients themselves are rounded to float32.
const I0E_A = Float32Array.from([
  -4.4153416464793393795e-18, 3.33079451882223809783e-17, -2.43127984654795469359e-16, 1.71539128555513303061e-15,
  -1.16853328779934516808e-14, 7.67618549860493561688e-14, -4.8564467831119294609e-13, 2.95505266312963983461e-12,
  -1.72682629144155570723e-11, 9.67580903537323691224e-11, -5.18979560163526290666e-10, 2.65982372468238665035e-9,
  -1.30002500998624804212e-8, 6.04699502254191894932e-8, -2.67079385394061173391e-7, 1.11738753912010371815e-6,
  -4.41673835845875056359e-6, 1.64484480707288970893e-5, -5.75419501008210370398e-5, 1.88502885095841655729e-4,
  -5.76375574538582365885e-4, 1.63947561694133579842e-3, -4.3243099950505759443e-3, 1.05464603945949983183e-2,
  -2.37374148058994688156e-2, 4.93052842396707084878e-2, -9.4901097048047644421e-2, 1.71620901522208775349e-1,
  -3.04682672343198398683e-1, 6.76795274409476084995e-1,
]);
const I0E_B = Float32Array.from([
  -7.23318048787475395456e-18, -4.83050448594418207126e-18, 4.46562142029675999901e-17, 3.4612228676974610931e-17,
  -2.82762398051658348494e-16, -3.42548561967721913462e-16, 1.7725601330565263836e-15, 3.81168066935262242075e-15,
  -9.5548466988283076487e-15, -4.15056934728722208663e-14, 1.54008621752140982691e-14, 3.85277838274214270114e-13,
  7.18012445138366623367e-13, -1.79417853150680611778e-12, -1.32158118404477131188e-11, -3.14991652796324136454e-11,
  1.18891471078464383424e-11, 4.9406023882249695891e-10, 3.39623202570838634515e-9, 2.26666899049817806459e-8,
  2.04891858946906374183e-7, 2.89137052083475648297e-6, 6.88975834691682398426e-5, 3.3691164782556940899e-3,
  8.04490411014108831608e-1,
]);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 next to the float32 `r` in the direction of `toward` (toward !== r). */
function nextFloat32(r: number, toward: number): number {
  if (r === 0) return toward > 0 ? 2 ** -149 : -(2 ** -149);
  f32[0] = r;
  // Stepping away from zero adds one to the magnitude bits, towards zero subtracts one (both signs).
  if (toward > r === r > 0) u32[0]!++;
  else u32[0]!--;
  return f32[0]!;
}

/**
 * fmaf(a, b, c) for float32 a, b, c: one rounding of a*b + c. a*b is exact in float64; the sum may round in
 * float64 and then again to float32, which only goes wrong when the float64 sum lands exactly on a float32 tie,
 * and the rounding error of that sum (TwoSum) tells which way the exact value lies.
 */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const err = p - (s - bb) + (c - bb);
  const r = Math.fround(s);
  if (err !== 0 && r !== s) {
    const other = nextFloat32(r, s);
    if ((r + other) / 2 === s) return err > 0 === other > r ? other : r;
  }
  return r;
}

/**
 * Cephes chbevl in float32 arithmetic. PyTorch's x86-64 kernels are compiled with FMA (AVX2 dispatch), and the
 * compiler contracts `x * b1 - b2` into one fused multiply-add: emulated here, because without it 5% of the
 * results differ in the last bit.
 */
function chbevlF32(x: number, coeffs: Float32Array): number {
  let b0 = coeffs[0]!;
  let b1 = 0;
  let b2 = 0;
  for (let i = 1; i < coeffs.length; i++) {
    b2 = b1;
    b1 = b0;
    b0 = Math.fround(fmaf(x, b1, -b2) + coeffs[i]!);
  }
  return Math.fround(0.5 * Math.fround(b0 - b2));
}

/**
 * `torch.i0(torch.tensor(x)).item()` for a float32 x, bit for bit on x86-64 CPU builds, except where glibc's expf
 * rounds differently from the correctly rounded exp used here (about 1 value in 700, by one ulp).
 */
export function torchI0Float32(x: number): number {
  const ax = Math.abs(Math.fround(x));
  const e = Math.fround(Math.exp(ax));
  if (ax <= 8) return Math.fround(e * chbevlF32(Math.fround(ax / 2 - 2), I0E_A));
  const y = Math.fround(Math.fround(32 / ax) - 2);
  return Math.fround(Math.fround(e * chbevlF32(y, I0E_B)) / Math.fround(Math.sqrt(ax)));
}
