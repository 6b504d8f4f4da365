// The scalar type names of assembly/board.ts and assembly/layout.ts, which the
// host compiles as TypeScript too (their values are all safe integers). A
// module with a global declaration, so that it is emitted with the package's
// types and a consumer's tsc finds it.
declare global {
  type u32 = number;
}
export {};
