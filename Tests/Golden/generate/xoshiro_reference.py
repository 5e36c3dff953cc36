"""Independent reference for SeededRandom: xoshiro256** (Blackman & Vigna) seeded by SplitMix64.

Prints the first outputs the Swift unit test RandomTests.matchesReferenceSequence expects.
Run: python3 Tests/Golden/generate/xoshiro_reference.py
"""
MASK = (1 << 64) - 1


def splitmix64(seed):
    state = seed
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def xoshiro256starstar(seed):
    seeds = splitmix64(seed)
    s = [next(seeds) for _ in range(4)]
    while True:
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        yield result


if __name__ == "__main__":
    for seed, n in ((2020, 4), (0, 2)):
        g = xoshiro256starstar(seed)
        print(seed, [hex(next(g)) for _ in range(n)])
