// A marker for the vCPU's slow paths. AssemblyScript cannot say that a branch
// is rarely taken; scripts/branch-hints.mjs (after each build) turns every
// call of cold() into nops and hints the `if` around it: unlikely when the
// call is in its then-arm, likely when in its else-arm. V8's optimizing
// compiler then lays the cold arm out of line, with the register spills its
// calls need, off the interpreter's hot path.

// @ts-ignore: decorator
@external("hint", "cold")
export declare function cold(): void;
