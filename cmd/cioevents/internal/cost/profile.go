package cost

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"runtime/pprof"

	"google.golang.org/protobuf/encoding/protowire"
)

// The fakes (bqfake, trackfake) serve from this process, so the process's
// CPU time during the processor's run includes theirs. Their goroutines are
// started under a profiler label, which every goroutine they start
// inherits; a CPU profile of the run then says how much of it was theirs.

const (
	labelKey  = "cioevents_cost"
	labelFake = "fake"
)

// startFakes runs f under the fakes' label.
func startFakes(f func()) {
	pprof.Do(context.Background(), pprof.Labels(labelKey, labelFake), func(context.Context) { f() })
}

// labelledCPU returns the CPU time, in µs, of a gzipped pprof CPU profile's
// samples that carry label key=value, and of all its samples.
func labelledCPU(profile []byte, key, value string) (labelled, total float64, err error) {
	zr, err := gzip.NewReader(bytes.NewReader(profile))
	if err != nil {
		return 0, 0, fmt.Errorf("cost: profile: %w", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return 0, 0, fmt.Errorf("cost: profile: %w", err)
	}
	var strs []string
	var samples [][]byte
	cpuIdx := -1
	var types [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, 0, protowire.ParseError(n)
		}
		b = b[n:]
		switch num {
		case 1: // sample_type
			types = append(types, v)
		case 2: // sample
			samples = append(samples, v)
		case 6: // string_table
			strs = append(strs, string(v))
		}
	}
	str := func(i uint64) string {
		if i < uint64(len(strs)) {
			return strs[i]
		}
		return ""
	}
	for i, t := range types {
		f := fields(t)
		if str(f[1]) == "cpu" && str(f[2]) == "nanoseconds" {
			cpuIdx = i
		}
	}
	if cpuIdx < 0 {
		return 0, 0, fmt.Errorf("cost: profile has no cpu/nanoseconds values")
	}
	for _, s := range samples {
		var values []uint64
		match := false
		for len(s) > 0 {
			num, typ, n := protowire.ConsumeTag(s)
			if n < 0 {
				return 0, 0, protowire.ParseError(n)
			}
			s = s[n:]
			switch {
			case num == 2 && typ == protowire.BytesType: // packed values
				v, n := protowire.ConsumeBytes(s)
				if n < 0 {
					return 0, 0, protowire.ParseError(n)
				}
				s = s[n:]
				for len(v) > 0 {
					x, m := protowire.ConsumeVarint(v)
					if m < 0 {
						return 0, 0, protowire.ParseError(m)
					}
					values = append(values, x)
					v = v[m:]
				}
			case num == 2 && typ == protowire.VarintType:
				x, n := protowire.ConsumeVarint(s)
				if n < 0 {
					return 0, 0, protowire.ParseError(n)
				}
				s = s[n:]
				values = append(values, x)
			case num == 3 && typ == protowire.BytesType: // label
				v, n := protowire.ConsumeBytes(s)
				if n < 0 {
					return 0, 0, protowire.ParseError(n)
				}
				s = s[n:]
				f := fields(v)
				if str(f[1]) == key && str(f[2]) == value {
					match = true
				}
			default:
				n := protowire.ConsumeFieldValue(num, typ, s)
				if n < 0 {
					return 0, 0, protowire.ParseError(n)
				}
				s = s[n:]
			}
		}
		if cpuIdx < len(values) {
			us := float64(values[cpuIdx]) / 1e3
			total += us
			if match {
				labelled += us
			}
		}
	}
	return labelled, total, nil
}

// fields decodes a message of varint fields numbered below 8.
func fields(b []byte) [8]uint64 {
	var f [8]uint64
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return f
		}
		b = b[n:]
		if typ != protowire.VarintType {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return f
			}
			b = b[n:]
			continue
		}
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return f
		}
		b = b[n:]
		if num < 8 {
			f[num] = x
		}
	}
	return f
}
