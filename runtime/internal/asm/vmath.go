package asm

import "math"

// Exp sets dst[i] = e^src[i] for i < len(src) (dst may alias src).
// Cephes expf: n = round(x*log2(e)), r = x - n*ln2 (ln2 in two parts),
// e^r by a degree-6 polynomial, times 2^n built in the exponent bits.
// Maximum relative error about 2 ulp (< 2.5e-7) where the result is a
// normal float32 (subnormal results, x < -87.34, lose relative accuracy as
// their precision shrinks). x > 88.72 gives +Inf, x < -103.97 gives 0,
// NaN gives NaN.
func Exp(dst, src []float32) {
	dst = dst[:len(src)]
	vexp(dst, src)
}

// Sigmoid sets dst[i] = 1/(1+e^-src[i]) (dst may alias src). Maximum
// relative error about 3 ulp.
func Sigmoid(dst, src []float32) {
	dst = dst[:len(src)]
	vsigmoid(dst, src)
}

// Tanh sets dst[i] = tanh(src[i]) (dst may alias src): an odd degree-11
// polynomial for |x| < 0.625 (Cephes tanhf), 1 - 2/(e^{2|x|}+1) with the
// sign restored above. Maximum relative error about 3 ulp.
func Tanh(dst, src []float32) {
	dst = dst[:len(src)]
	vtanh(dst, src)
}

// Erf sets dst[i] = erf(src[i]) (dst may alias src): an odd polynomial
// for |x| < 1 and 1 - erfc(|x|) from an exponential form beyond (see the
// coefficients below). Maximum relative error about 1.5e-7 (2.5 ulp).
func Erf(dst, src []float32) {
	dst = dst[:len(src)]
	verf(dst, src)
}

const (
	expHi = 88.72283935546875   // above: +Inf
	expLo = -103.97207641601562 // below: 0
	log2e = 1.44269504088896341
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	expP0 = 1.9875691500e-4
	expP1 = 1.3981999507e-3
	expP2 = 8.3334519073e-3
	expP3 = 4.1665795894e-2
	expP4 = 1.6666665459e-1
	expP5 = 5.0000001201e-1
)

// exp1 is one lane of Exp.
func exp1(x float32) float32 {
	if !(x <= expHi) { // +Inf, large or NaN
		if x != x {
			return x
		}
		return float32(math.Inf(1))
	}
	if x < expLo {
		return 0
	}
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2Hi
	r = r - n*ln2Lo
	z := r * r
	p := float32(expP0)
	p = p*r + expP1
	p = p*r + expP2
	p = p*r + expP3
	p = p*r + expP4
	p = p*r + expP5
	y := p*z + r + 1
	// 2^n in two factors so that n = 128 (x near expHi) and subnormal
	// results (n down to -150) stay exact.
	n1 := int32(n) >> 1
	n2 := int32(n) - n1
	return y * math.Float32frombits(uint32(n1+127)<<23) * math.Float32frombits(uint32(n2+127)<<23)
}

func vexpGo(dst, src []float32) {
	for i, x := range src {
		dst[i] = exp1(x)
	}
}

func vsigmoidGo(dst, src []float32) {
	for i, x := range src {
		if x < -expHi {
			// e^-x overflows: sigmoid(x) ~ e^x.
			dst[i] = exp1(x)
			continue
		}
		dst[i] = 1 / (1 + exp1(-x))
	}
}

const (
	tanhT0 = -5.70498872745e-3
	tanhT1 = 2.06390887954e-2
	tanhT2 = -5.37397155531e-2
	tanhT3 = 1.33314422036e-1
	tanhT4 = -3.33332819422e-1
)

func tanh1(x float32) float32 {
	ax := float32(math.Abs(float64(x)))
	if ax < 0.625 {
		z := x * x
		p := float32(tanhT0)
		p = p*z + tanhT1
		p = p*z + tanhT2
		p = p*z + tanhT3
		p = p*z + tanhT4
		return p*z*x + x
	}
	if ax > 9.1 { // tanh rounds to +-1; also keeps e^{2x} finite
		return float32(math.Copysign(1, float64(x)))
	}
	y := 1 - 2/(exp1(2*ax)+1)
	return float32(math.Copysign(float64(y), float64(x)))
}

func vtanhGo(dst, src []float32) {
	for i, x := range src {
		dst[i] = tanh1(x)
	}
}

// Erf coefficients. For |x| < 1, erf(x) = x*(C0 + z*Q(z)) with z = x^2,
// a relative minimax fit (weighted least squares) of erf(x)/x of degree
// 6 in z, fit error 1.2e-9. For |x| >= 1, erf(x) = 1 - erfc(|x|) with
// erfc(x) = t*exp(-x^2 + N(t)), t = 2/(2+x), the Chebyshev fit of
// Numerical Recipes (erfcc, fractional error below 1.2e-7), which is
// accurate there because 1 - erfc cancels nothing for x >= 1.
const (
	erfC0 = 1.1283791657267066
	erfC1 = -0.3761262582421823
	erfC2 = 0.11283585148447275
	erfC3 = -0.02685381192831149
	erfC4 = 0.0051883276724250665
	erfC5 = -0.000801019350779697
	erfC6 = 7.853860963814852e-05
)

var erfN = [10]float32{-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807, -1.13520398, 1.48851587, -0.82215223, 0.17087277}

// fma32 is a*b+c rounded once (as the assembly's FMA instructions).
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

func erf1(x float32) float32 {
	if x != x {
		return x
	}
	ax := float32(math.Abs(float64(x)))
	if ax < 1 {
		z := x * x
		q := float32(erfC6)
		q = fma32(q, z, erfC5)
		q = fma32(q, z, erfC4)
		q = fma32(q, z, erfC3)
		q = fma32(q, z, erfC2)
		q = fma32(q, z, erfC1)
		return fma32(x, erfC0, (x*z)*q)
	}
	t := 2 / (2 + ax)
	p := erfN[9]
	for i := 8; i >= 0; i-- {
		p = fma32(p, t, erfN[i])
	}
	y := 1 - t*exp1(fma32(-ax, ax, p))
	return float32(math.Copysign(float64(y), float64(x)))
}

func verfGo(dst, src []float32) {
	for i, x := range src {
		dst[i] = erf1(x)
	}
}
