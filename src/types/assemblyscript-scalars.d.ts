// The scalar type names of assembly/board.ts and assembly/layout.ts, which the
// host compiles as TypeScript too: their values are all safe integers.
declare type u32 = number;
