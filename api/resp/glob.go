package resp

// globMatch reports whether s matches the Redis glob pattern: '*' any
// run, '?' any byte, "[abc]", "[^abc]", "[a-z]" a class, '\' escapes the
// next byte. It runs in O(len(pattern)·len(s)) time without recursion,
// so no pattern can make it exponential.
func globMatch(pattern, s []byte) bool {
	p, i := 0, 0
	starP, starI := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			switch pattern[p] {
			case '*':
				starP, starI = p, i
				p++
				continue
			case '?':
				p++
				i++
				continue
			case '[':
				if ok, next := matchClass(pattern, p, s[i]); ok {
					p, i = next, i+1
					continue
				}
			case '\\':
				if p+1 < len(pattern) {
					if pattern[p+1] == s[i] {
						p, i = p+2, i+1
						continue
					}
				} else if s[i] == '\\' {
					p, i = p+1, i+1
					continue
				}
			default:
				if pattern[p] == s[i] {
					p, i = p+1, i+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last '*' swallow one more byte and retry.
		starI++
		p, i = starP+1, starI
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the class starting at pattern[p] == '['.
// It returns whether c matched and the index after the class. An
// unterminated class runs to the end of the pattern, as in Redis.
func matchClass(pattern []byte, p int, c byte) (bool, int) {
	p++
	negate := p < len(pattern) && pattern[p] == '^'
	if negate {
		p++
	}
	matched := false
	for p < len(pattern) && pattern[p] != ']' {
		switch {
		case pattern[p] == '\\' && p+1 < len(pattern):
			p++
			matched = matched || pattern[p] == c
		case p+2 < len(pattern) && pattern[p+1] == '-' && pattern[p+2] != ']':
			lo, hi := pattern[p], pattern[p+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			matched = matched || (c >= lo && c <= hi)
			p += 2
		default:
			matched = matched || pattern[p] == c
		}
		p++
	}
	if p < len(pattern) {
		p++ // the ']'
	}
	return matched != negate, p
}

// globPrefix is the literal prefix of pattern before its first special
// byte: every match starts with it, so KEYS ranges from it.
func globPrefix(pattern []byte) []byte {
	for i, b := range pattern {
		switch b {
		case '*', '?', '[', '\\':
			return pattern[:i]
		}
	}
	return pattern
}
