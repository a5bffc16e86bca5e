"""MinHash signatures of character n-grams and LSH banding, for near-duplicate detection.

Hand-written (rather than datasketch's ``MinHash`` per document) because near dedup is our edge
and its cost is per character: shingles of a whole batch are hashed at once with numpy (an FNV-1a
walk over UTF-32 code points, then the splitmix64 finaliser, 64 bits so that one-shingle texts
stay distinct) and rensa's flat kernel takes the permutation minima: 40-60x datasketch 2.0 on one
core (benchmarks/results/minhash_speed.md). Without rensa a pure-numpy affine permutation path
gives valid but different signatures, about half as fast; ``MinHasher.scheme`` names the path so
signatures from the two are never mixed in one index.

Shingling rules, shared by the signatures and the exact ``jaccard``:

* the text is first reduced by ``shingle_text`` (the exact-dedup normalization), so width,
  punctuation, whitespace, case and (with ``t2s``) script variants get identical signatures;
* a text of at least ``ngram`` characters has its character n-grams as shingles;
* a shorter non-empty text is ONE shingle, the whole text, so short texts are equal iff identical
  (never one shared empty-set signature for all of them);
* an empty text has no shingles: it gets ``EMPTY_SIGNATURE_VALUE`` everywhere and is reported
  empty, and neither estimate nor exact Jaccard ever makes two empty texts similar.
"""

from array import array
from collections.abc import Callable, Sequence

import numpy as np

from beam_cqia.text.dedupkey import dedup_text

try:
    import rensa
except ImportError:  # pragma: no cover - the tests simulate it with minhash.rensa = None
    rensa = None

EMPTY_SIGNATURE_VALUE = 0xFFFFFFFF
"""Every value of an empty text's signature (no shingle, so no minimum)."""

_U64 = np.uint64
_FNV_OFFSET = _U64(0xCBF29CE484222325)
_FNV_PRIME = _U64(0x100000001B3)
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_S30, _S27, _S31, _S32 = _U64(30), _U64(27), _U64(31), _U64(32)
# Code points per internal chunk: larger batches are split so the working arrays stay in cache
# (measured on COIG-CQIA outputs: 2**20-character chunks ran 40% slower than 2**16-2**18).
_CHUNK_CHARS = 1 << 17
_BACKENDS = ("auto", "rensa", "numpy")
_ARRAY_U32 = next((code for code in "IL" if array(code).itemsize == 4), None)


def shingle_text(text: str, t2s: Callable[[str], str] | None = None) -> str:
    """Returns the text shingles are taken from: exactly what exact dedup compares.

    Args:
        text: the text.
        t2s: a traditional-to-simplified converter (e.g. ``opencc.OpenCC("t2s").convert``);
            None leaves the script as is.
    """
    return dedup_text(text, t2s)


def _mix64(h: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """Applies the splitmix64 finaliser (a bijection on uint64) in place and returns ``h``."""
    t = np.empty_like(h) if tmp is None else tmp
    np.right_shift(h, _S30, out=t)
    h ^= t
    h *= _MIX1
    np.right_shift(h, _S27, out=t)
    h ^= t
    h *= _MIX2
    np.right_shift(h, _S31, out=t)
    h ^= t
    return h


def _splitmix64(seed: int, count: int) -> np.ndarray:
    """The first ``count`` outputs of splitmix64 seeded with ``seed`` (same on every machine)."""
    with np.errstate(over="ignore"):
        state = _U64(seed) + _GOLDEN * np.arange(1, count + 1, dtype=_U64)
    return _mix64(state)


def _shingle_set(text: str, ngram: int) -> set[str]:
    """The shingles of an already reduced text (see the module docstring for the rules)."""
    if not text:
        return set()
    if len(text) < ngram:
        return {text}
    return {text[i : i + ngram] for i in range(len(text) - ngram + 1)}


def jaccard(
    a_text: str, b_text: str, ngram: int = 5, t2s: Callable[[str], str] | None = None
) -> float:
    """Exact Jaccard similarity of two texts' shingle sets (the rules of ``MinHasher``).

    Two texts without content score 0.0: empty texts are never near duplicates of each other.

    Args:
        a_text: a text (reduced here with ``shingle_text``).
        b_text: the other text.
        ngram: characters per shingle.
        t2s: the traditional-to-simplified converter given to ``shingle_text``.
    """
    return set_jaccard(shingles(a_text, ngram, t2s), shingles(b_text, ngram, t2s))


def shingles(text: str, ngram: int = 5, t2s: Callable[[str], str] | None = None) -> set[str]:
    """The shingle set ``jaccard`` compares (the text reduced with ``shingle_text`` first)."""
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    return _shingle_set(shingle_text(text, t2s), ngram)


def set_jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two shingle sets; 0.0 when both are empty."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def estimated_jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimates Jaccard similarity from two signatures: the share of equal minima.

    An empty text's signature (all ``EMPTY_SIGNATURE_VALUE``) scores 0.0 against anything,
    itself included.
    """
    a = np.asarray(sig_a)
    b = np.asarray(sig_b)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"need two signatures of the same length, got {a.shape} and {b.shape}")
    if (a == EMPTY_SIGNATURE_VALUE).all() or (b == EMPTY_SIGNATURE_VALUE).all():
        return 0.0
    return float(np.count_nonzero(a == b)) / a.size


def _code_points(texts: Sequence[str], pad: int) -> np.ndarray:
    """The texts' code points, concatenated, as uint64, followed by ``pad`` zeros."""
    # surrogatepass keeps one unit per str index even for a lone surrogate.
    joined = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), np.uint32)
    cp = np.empty(joined.size + pad, _U64)
    cp[: joined.size] = joined
    cp[joined.size :] = 0
    return cp


def _flat_shingle_hashes(texts: Sequence[str], lens: np.ndarray, ngram: int) -> np.ndarray:
    """Hashes the shingles of non-empty reduced texts in one vectorized pass.

    Returns one uint64 per character, text after text (row ``i`` is
    ``[offsets[i], offsets[i + 1])`` with ``offsets = [0, *cumsum(lens)]``): the n-gram starting
    there, or, where fewer than ``ngram`` characters of the text remain, a repeat of the text's
    first shingle. Repeats do not change a minimum, so rows are exactly the shingle sets without
    the gather that dropping the cross-text n-grams would cost.
    """
    cp = _code_points(texts, ngram - 1)
    total = cp.size - (ngram - 1)
    ends = lens.cumsum()
    starts = ends - lens
    short = lens < ngram
    any_short = bool(short.any())

    # FNV-1a over whole code points. After k steps the state at a short text's start is the hash
    # of that whole text (k = its length): captured on the way, before the crossing characters.
    h = np.bitwise_xor(cp[:total], _FNV_OFFSET)
    if any_short:
        short_lens, short_starts = lens[short], starts[short]
        short_hashes = np.empty(short_lens.size, _U64)
    for k in range(ngram):
        if k:
            h ^= cp[k : k + total]
        h *= _FNV_PRIME
        if any_short:
            done = short_lens == k + 1
            short_hashes[done] = h[short_starts[done]]
    _mix64(h)

    if ngram > 1:
        if any_short:
            long_starts, long_ends = starts[~short], ends[~short]
        else:
            long_starts, long_ends = starts, ends
        tail = (long_ends - (ngram - 1))[:, None] + np.arange(ngram - 1)
        h[tail] = h[long_starts][:, None]
        if any_short:
            _mix64(short_hashes)
            within = np.arange(short_lens.sum()) - np.repeat(
                np.cumsum(short_lens) - short_lens, short_lens
            )
            h[np.repeat(short_starts, short_lens) + within] = np.repeat(short_hashes, short_lens)
    return h


class MinHasher:
    """MinHash signatures of many texts at once, with the shingling rules of this module.

    Signatures depend only on the text, ``num_perm``, ``ngram``, ``seed`` and the backend, never on
    the batch, the position in it, the process or the machine (no Python ``hash()``, no unseeded
    randomness). Texts are reduced with ``shingle_text`` (pass ``normalized=True`` to skip that
    when they already are).

    Args:
        num_perm: permutations, i.e. values per signature.
        ngram: characters per shingle.
        seed: selects the permutations; signatures with different seeds are not comparable.
        t2s: the traditional-to-simplified converter given to ``shingle_text``.
        backend: "rensa" (the fast kernel; fails if rensa is missing), "numpy" (pure numpy,
            different signatures) or "auto" (rensa when importable). Pick one explicitly when
            signatures are stored, and store ``scheme`` with them.

    Attributes:
        backend: "rensa" or "numpy", the path actually used.
        scheme: names everything the signature values depend on (kernel and its version, shingle
            hash, ngram, num_perm, seed): signatures are comparable iff their schemes are equal.
    """

    def __init__(
        self,
        num_perm: int = 128,
        ngram: int = 5,
        seed: int = 1,
        *,
        t2s: Callable[[str], str] | None = None,
        backend: str = "auto",
    ) -> None:
        if num_perm < 1:
            raise ValueError(f"num_perm must be >= 1, got {num_perm}")
        if ngram < 1:
            raise ValueError(f"ngram must be >= 1, got {ngram}")
        if not 0 <= seed < 1 << 64:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
        if backend == "rensa" and rensa is None:
            raise ImportError("backend='rensa' needs the rensa package (pip install rensa)")
        self.num_perm = num_perm
        self.ngram = ngram
        self.seed = seed
        self.t2s = t2s
        if backend == "auto":
            backend = "numpy" if rensa is None else "rensa"
        self.backend = backend
        if backend == "rensa":
            kernel = f"rensa-rminhash{rensa.RMinHash.ALGORITHM_VERSION}"
        else:
            kernel = "numpy-affine32"
            params = _splitmix64(seed, 2 * num_perm)
            self._a = (params[:num_perm] | _U64(1)).astype(np.uint32)  # odd: a bijection
            self._b = params[num_perm:].astype(np.uint32)
        self.scheme = f"cqia-minhash1/{kernel}/fnv1a64-splitmix64/n{ngram}/p{num_perm}/s{seed}"

    def signatures(self, texts: Sequence[str], *, normalized: bool = False) -> np.ndarray:
        """Returns the signatures of ``texts``: shape (len(texts), num_perm), uint32.

        An empty text (after reduction) gets ``EMPTY_SIGNATURE_VALUE`` everywhere; use
        ``signatures_with_mask`` to be told which rows those are.
        """
        return self.signatures_with_mask(texts, normalized=normalized)[0]

    def signatures_with_mask(
        self, texts: Sequence[str], *, normalized: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns the signatures and a bool mask of the texts that are empty after reduction.

        Callers must keep empty rows out of LSH: their signatures are all equal.
        """
        if not normalized:
            texts = [shingle_text(t, self.t2s) for t in texts]
        lens = np.fromiter(map(len, texts), np.int64, len(texts))
        empty = lens == 0
        if lens.size and lens.all() and lens.sum() <= _CHUNK_CHARS:
            return self._dense(texts, lens), empty  # the common case, without copies
        out = np.full((len(texts), self.num_perm), EMPTY_SIGNATURE_VALUE, np.uint32)
        rows = np.flatnonzero(~empty)
        # Chunks end where the running character count crosses a multiple of _CHUNK_CHARS.
        chunk_of = (np.cumsum(lens[rows]) - 1) // _CHUNK_CHARS
        bounds = np.flatnonzero(np.diff(chunk_of)) + 1
        for part in np.split(rows, bounds) if rows.size else []:
            out[part] = self._dense([texts[i] for i in part], lens[part])
        return out, empty

    def _dense(self, texts: Sequence[str], lens: np.ndarray) -> np.ndarray:
        """Signatures of non-empty reduced texts, C-contiguous and writable."""
        hashes = _flat_shingle_hashes(texts, lens, self.ngram)
        offsets = np.zeros(lens.size + 1, _U64)
        np.cumsum(lens, out=offsets[1:])
        if self.backend == "rensa":
            matrix = rensa.RMinHash.digest_matrix_from_flat_token_hashes(
                hashes, offsets, self.num_perm, self.seed
            )
            return _rows_to_array(matrix.to_rows(), self.num_perm)
        return self._numpy_minima(hashes, offsets[:-1].astype(np.intp))

    def _numpy_minima(self, hashes: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Per-row minima of ``a * x + b mod 2**32`` for every permutation (pure numpy).

        Even permutations take the low 32 bits of each shingle hash as x, odd ones the high 32
        bits, so a one-shingle text's signature depends on all 64 bits (32 would make distinct
        short texts collide after about 2**16 of them).
        """
        halves = (hashes.astype(np.uint32), (hashes >> _S32).astype(np.uint32))
        out = np.empty((self.num_perm, starts.size), np.uint32)
        tmp = np.empty_like(halves[0])
        for p in range(self.num_perm):
            np.multiply(halves[p % 2], self._a[p], out=tmp)
            tmp += self._b[p]
            np.minimum.reduceat(tmp, starts, out=out[p])
        return np.ascontiguousarray(out.T)


def _rows_to_array(rows: list[list[int]], num_perm: int) -> np.ndarray:
    """Converts rensa's list of rows to a uint32 matrix (3-4x faster than ``np.asarray``)."""
    if _ARRAY_U32 is None:  # pragma: no cover - no 4-byte array code on this platform
        return np.asarray(rows, np.uint32).reshape(len(rows), num_perm)
    flat = array(_ARRAY_U32)
    for row in rows:
        flat.fromlist(row)
    return np.frombuffer(flat, np.uint32).reshape(len(rows), num_perm)


def optimal_bands(
    threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5
) -> tuple[int, int]:
    """Chooses LSH bands and rows for a Jaccard threshold, as datasketch's ``MinHashLSH`` does.

    Minimizes ``fp_weight * FP + fn_weight * FN`` over all ``bands * rows <= num_perm``, where
    FP integrates the candidate probability ``1 - (1 - s**rows)**bands`` over s in
    [0, threshold] and FN integrates its complement over [threshold, 1]. The integrand is a
    polynomial of degree ``bands * rows <= num_perm``, so Gauss-Legendre quadrature with
    ``num_perm // 2 + 1`` nodes is exact (no scipy needed). Ties go to fewer bands, then fewer
    rows.

    Returns:
        (bands, rows).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    if fp_weight < 0 or fn_weight < 0 or fp_weight + fn_weight <= 0:
        raise ValueError(f"weights must be >= 0 and not both 0, got {fp_weight}, {fn_weight}")
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)])
    bands = pairs[:, 0:1].astype(float)
    rows = pairs[:, 1:2].astype(float)
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)

    def integral(lo: float, hi: float, complement: bool) -> np.ndarray:
        s = (hi - lo) / 2 * nodes + (hi + lo) / 2
        p = 1.0 - (1.0 - s**rows) ** bands
        return (hi - lo) / 2 * ((1.0 - p if complement else p) @ weights)

    error = fp_weight * integral(0.0, threshold, False) + fn_weight * integral(threshold, 1.0, True)
    best = pairs[int(np.argmin(error))]
    return int(best[0]), int(best[1])


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Hashes each band of each signature to one key: shape (n, bands), uint64.

    Keys of one band are equal when its rows are equal and, up to 64-bit hash collisions, only
    then (exactly only then when ``rows <= 2``); the band index is hashed in, so equal rows in
    different bands give different keys. Values are the same on every machine.

    Args:
        signatures: shape (n, num_perm), uint32, with ``bands * rows <= num_perm``.
        bands: number of bands.
        rows: signature values per band.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2 or sig.dtype != np.uint32:
        raise ValueError(f"signatures must be a 2-D uint32 array, got {sig.dtype} {sig.shape}")
    if bands < 1 or rows < 1 or bands * rows > sig.shape[1]:
        raise ValueError(f"need 1 <= bands * rows <= {sig.shape[1]}, got {bands} x {rows}")
    band = sig[:, : bands * rows].reshape(sig.shape[0], bands, rows).astype(_U64)
    if rows % 2:
        band = np.concatenate([band, np.zeros((sig.shape[0], bands, 1), _U64)], axis=2)
    # Two values per 64-bit word; each word goes through the bijective finaliser, so a band of one
    # word (rows <= 2) maps to its key one to one.
    words = band[:, :, 0::2] | (band[:, :, 1::2] << _S32)
    keys = np.broadcast_to(_splitmix64(rows, bands), words.shape[:2]).copy()
    tmp = np.empty_like(keys)
    for w in range(words.shape[2]):
        keys ^= words[:, :, w]
        _mix64(keys, tmp)
    return keys


def shingle_hash_sets(texts: Sequence[str], ngram: int) -> list[np.ndarray]:
    """The distinct shingle hashes (uint64) of each already reduced text, with this module's
    shingling rules; an empty text gives an empty array. Used for n-gram overlap
    (decontamination), where exact shingle identity matters more than a signature."""
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    lens = np.fromiter(map(len, texts), np.int64, len(texts))
    out: list[np.ndarray] = [np.empty(0, _U64)] * len(texts)
    rows = np.flatnonzero(lens)
    if rows.size:
        part = [texts[i] for i in rows]
        hashes = _flat_shingle_hashes(part, lens[rows], ngram)
        bounds = np.cumsum(lens[rows])[:-1]
        for row, chunk in zip(rows, np.split(hashes, bounds), strict=True):
            out[row] = np.unique(chunk)
    return out
