/* Illegal-instruction exceptions: mcause 2, mepc = the instruction,
 * mtval = the instruction bits (32-bit encodings, and 16-bit encodings
 * zero-extended), rd not written, execution continues after a handler skip.
 * Covers reserved 32-bit encodings, reserved/illegal compressed encodings,
 * and an FP instruction while mstatus.FS = Off. */
#include "isa.h"
TEST_NAME trap_illegal

.macro ILL32 n, word
  TRAP_RESET
.Li\@:
  .word \word
  CHECK_TRAP \n, CAUSE_ILLEGAL
  CHECK_EPC \n, .Li\@
  CHECK_TVAL \n, \word
.endm
.macro ILL16 n, half
  TRAP_RESET
.Li\@:
  .hword \half
  CHECK_TRAP \n, CAUSE_ILLEGAL
  CHECK_EPC \n, .Li\@
  CHECK_TVAL \n, \half
.endm

  .text
  .globl test_main
test_main:
  ILL32 1, 0x0000000b          /* custom-0 opcode */
  ILL32 2, 0x1234500b          /* custom-0 with fields */
  ILL32 3, 0x0200101b          /* slliw with shamt[5] = 1 (reserved) */
  ILL32 4, 0x4000703b          /* OP-32 funct7=0100000 funct3=111: none */
  ILL32 5, 0x00004073          /* SYSTEM funct3=100 */
  ILL32 6, 0xfe000033          /* OP funct7=1111111 */
  ILL32 7, 0x0000700f          /* MISC-MEM funct3=111 */
  ILL32 8, 0x00002063          /* BRANCH funct3=010 */
  ILL32 9, 0x00007003          /* LOAD funct3=111 */
  ILL32 10, 0x00004023         /* STORE funct3=100 */
  ILL32 11, 0x30300073         /* SYSTEM funct12=0x303: undefined */

  /* compressed */
  .option push
  .option rvc
  ILL16 12, 0x0000             /* the all-zero illegal instruction */
  ILL16 13, 0x0004             /* c.addi4spn with nzuimm = 0 */
  ILL16 14, 0x4002             /* c.lwsp with rd = x0 */
  ILL16 15, 0x8002             /* c.jr with rs1 = x0 */
  ILL16 16, 0x6002             /* c.ldsp with rd = x0 */
  ILL16 17, 0x2001             /* c.addiw with rd = x0 */
  .option pop

  /* rd is not written by a trapping instruction */
  TRAP_RESET
  li a0, 0x1234
.Lill_rd:
  .word 0x0000050b             /* custom-0, rd = a0 */
  CHECK_TRAP 18, CAUSE_ILLEGAL
  CHECK 19, a0, 0x1234

  /* FP instruction with mstatus.FS = Off */
  li t0, MSTATUS_FS
  csrc mstatus, t0
  TRAP_RESET
.Lfp:
  fadd.d fa0, fa1, fa2
  CHECK_TRAP 20, CAUSE_ILLEGAL
  CHECK_EPC 21, .Lfp
  CHECK_TVAL_INSN32 22, .Lfp
  TRAP_RESET
.Lfp2:
  csrr a0, fcsr
  CHECK_TRAP 23, CAUSE_ILLEGAL
  CHECK_EPC 24, .Lfp2
  li t0, MSTATUS_FS_INITIAL
  csrs mstatus, t0
  TRAP_RESET
  fadd.d fa0, fa1, fa2
  csrr a0, fcsr
  CHECK_NOTRAP 25

  j pass
