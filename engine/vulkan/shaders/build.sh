#!/bin/sh
# Compiles the compute shaders to SPIR-V under spv/ (or $SPV_OUT): run by
# `go generate ./engine/vulkan`; TestShadersUpToDate runs it into a
# temporary directory and compares bytes with the committed files.
#
# - mul_mat.comp: per weight type whose types/<type>.glsl exists, as
#   mul_mat_vec_<type> (TN=1) and mul_mm_<type> (TN=8) in f32 mode; for
#   the quantized types also mul_mat_vec_q8_1_<type> and mul_mm_q8_1_<type>
#   (-DMODE_Q), for F16/BF16 mul_mat_vec_x<type>_<type> and
#   mul_mm_x<type>_<type> (activations rounded to the type).
# - a .comp whose first line starts with "// per-type" (e.g. get_rows):
#   once per type, with -DTYPE_<type> (select the include with an #if
#   chain as mul_mat.comp does: glslc does not expand a macro in
#   #include), as <name>_<type>.
# - every other .comp: once, as <name>.
set -eu
cd "$(dirname "$0")"
GLSLC=${GLSLC:-glslc}
OUT=${SPV_OUT:-spv}
mkdir -p "$OUT"
cc() { "$GLSLC" -O --target-env=vulkan1.1 "$@"; }
TYPES="f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_k q3_k q4_k q5_k q6_k"
for t in $TYPES; do
	[ -f "types/$t.glsl" ] || continue
	cc -DTYPE_$t -DTN=1 mul_mat.comp -o "$OUT/mul_mat_vec_$t.spv"
	cc -DTYPE_$t -DTN=8 mul_mat.comp -o "$OUT/mul_mm_$t.spv"
	case $t in
	f32) ;;
	f16 | bf16)
		# quantized mode on F16/BF16 weights: activations rounded to the type
		cc -DTYPE_$t -DTN=1 -DX_$(echo $t | tr a-z A-Z) mul_mat.comp -o "$OUT/mul_mat_vec_x${t}_$t.spv"
		cc -DTYPE_$t -DTN=8 -DX_$(echo $t | tr a-z A-Z) mul_mat.comp -o "$OUT/mul_mm_x${t}_$t.spv"
		;;
	*)
		cc -DTYPE_$t -DTN=1 -DMODE_Q mul_mat.comp -o "$OUT/mul_mat_vec_q8_1_$t.spv"
		cc -DTYPE_$t -DTN=8 -DMODE_Q mul_mat.comp -o "$OUT/mul_mm_q8_1_$t.spv"
		;;
	esac
done
for f in *.comp; do
	name=${f%.comp}
	[ "$name" = mul_mat ] && continue
	if head -n 1 "$f" | grep -q '^// per-type'; then
		for t in $TYPES; do
			[ -f "types/$t.glsl" ] || continue
			cc -DTYPE_$t "$f" -o "$OUT/${name}_$t.spv"
		done
	else
		cc "$f" -o "$OUT/$name.spv"
	fi
done
