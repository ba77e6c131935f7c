/* rpc.h: the host <-> guest-kernel RPC contract of the kvm backend.
 *
 * Dual-use and self-contained like abi.h (C11 freestanding headers only).
 * It pins what the host VMM (src/host/) and the guest kernel
 * (src/guest/) must agree on beyond the wire ABI of abi.h:
 *   - the fixed guest-physical memory map,
 *   - the boot entry contract (register values at the 32-bit entry),
 *   - the RPC mailbox (request header, payload, response header, response),
 *   - the I/O ports (doorbell, exit), the fault report,
 *   - the cap directory layout that BootInfo.directory_va points to.
 * Guest addresses are integers (nub_gpa / nub_gva), never pointers: the host
 * must translate and bounds-check them (the guest is untrusted).
 *
 * The guest kernel identity-maps guest-physical memory (gva == gpa below
 * 4 GiB), so every address in this file is both a gpa and a gva.
 *
 * ---- guest-physical memory map (fixed; RAM >= NUB_GUEST_MIN_RAM) ---------
 *
 *   gpa range                     what
 *   0x0000_0000 .. 0x0000_0FFF    never mapped (null page: catches NULL)
 *   0x0000_1000 .. 0x000F_FFFF    unused low memory (BIOS area under QEMU)
 *   0x0010_0000 .. (ELF end)      kernel image: .text .rodata .data
 *                                 .boot_info .bss (boot page tables, GDT,
 *                                 TSS, IDT, stacks, cap directory)
 *   0x00F0_0000 .. 0x00F0_7FFF    ParallelInvokeSlot[64] (lane i: vCPU
 *                                 i + 1 under kvm)
 *   0x00F1_0000 .. 0x00F8_FFFF    the lanes' host-call buffers [64], 8 KiB
 *                                 each (lane i's at NUB_GUEST_LANE_BUFS_GPA
 *                                 + i * NUB_GUEST_LANE_BUF_SIZE): the bytes
 *                                 of the HOST_MEM requests of lane i's slot
 *                                 (abi.h), written by the host (WRITE) or
 *                                 by lane i's worker (READ)
 *   0x0100_0000 .. +NUB_RPC_MAILBOX_SIZE   the RPC mailbox (below)
 *   0x0200_0000 .. RAM end        the guest heap (caps, decoded programs,
 *                                 PVM frames); RAM size from multiboot
 *                                 mem_upper, or NUB_RPC mailbox ram_bytes
 *   0x0000_0080_0000_0000         guest_va_base: the window of the PVM
 *                                 address space a CPU runs (PML4[1])
 *
 * ---- entry contract (Multiboot v1 compatible) -----------------------------
 * The vCPU starts at the ELF entry (nub_guest_entry32, a gpa below 1 GiB) in
 * 32-bit protected mode, paging off, interrupts off, flat 4 GiB CS (code,
 * 32-bit) and DS/ES/SS (data), as Multiboot v1 specifies (Multiboot spec
 * 3.2 "Machine state"; Intel SDM vol. 3A 9.9 "Mode switching"):
 *   EAX = 0x2BADB002 (NUB_MULTIBOOT_MAGIC): EBX = gpa of a Multiboot info
 *         struct (QEMU -kernel; mem_upper and the command line are read);
 *   EAX = NUB_GUEST_BOOT_MAGIC (the kvm host): EBX = 0, the RAM size is in
 *         the mailbox (ram_bytes), the kernel serves RPCs;
 *   EAX = NUB_GUEST_AP_MAGIC (the kvm host, an application processor): EBX =
 *         the vCPU index i (1 <= i < mailbox vcpus), started only after the
 *         BSP rang READY (it prepared every AP's state then); the vCPU
 *         serves lane i - 1 (ParallelInvokeSlot[i - 1]) until STOP. An idle
 *         lane executes `hlt` (KVM_EXIT_HLT: the host resumes the vCPU when
 *         it posts); after STOP it rings NUB_DOORBELL_LANE_STOPPED and
 *         halts; the host may start it again the same way.
 * No stack is needed: the kernel builds its own page tables, GDT, TSS, IDT
 * and stack. The host loads the ELF PT_LOAD segments at their p_paddr and
 * zeroes the memsz - filesz tails; it must place nothing in the kernel,
 * mailbox or heap ranges except the mailbox contents.
 *
 * ---- RPC protocol -----------------------------------------------------------
 *   1. guest boots, fills the mailbox header (magic, version, capacities),
 *      then `out NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_READY` (32-bit out).
 *   2. host writes fn_id, req_len and the payload, increments seq, resumes.
 *   3. guest validates req_len <= req_cap, dispatches, writes status,
 *      resp_len and the response, echoes seq in resp_seq, then
 *      `out NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_REPLY`; back to 2.
 *   A CPU exception: the guest fills the fault report, then
 *   `out NUB_RPC_DOORBELL_PORT, NUB_DOORBELL_FAULT` and halts for good.
 *   The host re-validates every field (resp_len <= resp_cap, status a known
 *   nub_err, resp_seq == seq) and treats anything else as a broken guest.
 */
#ifndef NUB_RPC_H
#define NUB_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "nub/abi.h"

typedef uint64_t nub_gpa;

/* ---- memory map (see the table above) ------------------------------------ */
#define NUB_GUEST_KERNEL_GPA 0x00100000ull
#define NUB_GUEST_SLOTS_GPA 0x00F00000ull
#define NUB_GUEST_LANE_BUFS_GPA 0x00F10000ull
#define NUB_GUEST_LANE_BUF_SIZE NUB_SLOT_MEM_MAX
#define NUB_GUEST_MAILBOX_GPA 0x01000000ull
#define NUB_GUEST_HEAP_GPA 0x02000000ull
#define NUB_GUEST_MIN_RAM (64ull << 20)
#define NUB_GUEST_VA_BASE 0x0000008000000000ull

/* ---- entry ----------------------------------------------------------------- */
#define NUB_MULTIBOOT_MAGIC 0x2BADB002u
#define NUB_GUEST_BOOT_MAGIC 0x4E554247u /* "NUBG" */
#define NUB_GUEST_AP_MAGIC 0x4E554241u   /* "NUBA" */

/* ---- I/O ports (32-bit out) ---------------------------------------------- */
#define NUB_RPC_DOORBELL_PORT 0x0510u
#define NUB_DOORBELL_READY 1u
#define NUB_DOORBELL_REPLY 2u
#define NUB_DOORBELL_FAULT 3u
#define NUB_DOORBELL_LANE_STOPPED 4u /* from an AP: its worker saw STOP */
#define NUB_DOORBELL_LANE_DONE 5u    /* from a lane: DONE or HOST_WAIT stored while the host sleeps */
/* QEMU isa-debug-exit (iobase 0xf4): the guest writes its exit code; QEMU
 * exits with status (code << 1) | 1. A kvm host treats it as "guest gone". */
#define NUB_GUEST_EXIT_PORT 0x00F4u
#define NUB_GUEST_EXIT_OK 0x10u    /* qemu status 33 */
#define NUB_GUEST_EXIT_FAIL 0x11u  /* qemu status 35 */
#define NUB_GUEST_EXIT_FAULT 0x12u /* qemu status 37 */
/* Serial console (COM1), 8N1: the guest's human-readable log. */
#define NUB_GUEST_SERIAL_PORT 0x03F8u

/* ---- mailbox ----------------------------------------------------------------
 * One request in flight. The request area holds one PUT_CAP of up to
 * 8 MiB - 4 KiB; the response area is small (the largest reply today is the
 * 152-byte InvocationResult). */
#define NUB_RPC_MAGIC 0x313043505242554Eull /* "NUBRPC01" LE; written by the guest at boot */
#define NUB_RPC_HEADER_SIZE 4096u
#define NUB_RPC_REQ_CAP ((8u << 20) - NUB_RPC_HEADER_SIZE)
#define NUB_RPC_RESP_CAP (64u << 10)
#define NUB_RPC_MAILBOX_SIZE (NUB_RPC_HEADER_SIZE + NUB_RPC_REQ_CAP + NUB_RPC_RESP_CAP)

/* Fault report: filled by the guest's exception handler. */
typedef struct nub_rpc_fault {
	uint32_t vector;     /* @0  exception vector 0..31 (or 0xFFFFFFFF: assert) */
	uint32_t valid;      /* @4  1 when this report is filled */
	uint64_t error_code; /* @8  the CPU's error code, 0 when the vector has none */
	uint64_t rip;        /* @16 faulting instruction */
	uint64_t cr2;        /* @24 page-fault linear address (vector 14) */
	uint64_t rsp;        /* @32 */
	uint64_t fn_id;      /* @40 the request being served, or ~0 */
} NubRpcFault;

typedef struct nub_rpc_mailbox_header {
	uint64_t magic;       /* @0   OUT NUB_RPC_MAGIC once the guest is up */
	uint32_t abi_version; /* @8   OUT NUB_ABI_VERSION */
	uint32_t req_cap;     /* @12  OUT NUB_RPC_REQ_CAP */
	uint32_t resp_cap;    /* @16  OUT NUB_RPC_RESP_CAP */
	uint32_t seq;         /* @20  IN  host bumps it per request */
	uint32_t fn_id;       /* @24  IN  */
	uint32_t req_len;     /* @28  IN  payload bytes in req[] */
	uint32_t status;      /* @32  OUT nub_err, 0 = ok */
	uint32_t resp_len;    /* @36  OUT bytes in resp[] */
	uint32_t resp_seq;    /* @40  OUT seq of the request answered */
	uint32_t _pad0;       /* @44  */
	uint64_t ram_bytes;   /* @48  IN  (kvm boot) guest RAM size */
	NubRpcFault fault;    /* @56  OUT */
	uint32_t vcpus;       /* @104 IN  (kvm boot) vCPUs created; 0 = 1 */
	uint32_t lanes_ready; /* @108 OUT APs prepared (vcpus - 1 when all fit) */
	uint32_t invocation_pages; /* @112 IN (kvm boot) most pages one invocation may map; 0 = 2^20 */
	uint32_t _pad1;            /* @116 */
	uint8_t _reserved[NUB_RPC_HEADER_SIZE - 120]; /* @120 */
} NubRpcMailboxHeader;

typedef struct nub_rpc_mailbox {
	NubRpcMailboxHeader h;          /* @0 */
	uint8_t req[NUB_RPC_REQ_CAP];   /* @4096 */
	uint8_t resp[NUB_RPC_RESP_CAP]; /* @4096 + REQ_CAP */
} NubRpcMailbox;

/* ---- cap directory (BootInfo.directory_va, directory_type_id) -------------
 * A fixed-capacity open-addressing table with linear probing, never resized
 * and never moved, so the host can read it at any time between RPCs:
 *   header (64 B) at directory_va, then `capacity` entries of 64 B.
 * Lookup of hash h: i = (LE u64 of h[0..8]) & (capacity - 1); probe i, i+1,
 * ... (mod capacity) until an entry with state EMPTY (absent) or with
 * state FULL and hash == h (found). bytes_gpa/len name the cap's encoding in
 * guest memory (the host must bounds-check them). Entries are written
 * before count is bumped; published entries never change except `aux`. */
#define NUB_CAPDIR_LAYOUT_V1 0x313052494442554Eull /* "NUBDIR01" LE; = directory_type_id */
#define NUB_CAPDIR_MAGIC 0x5249445041434E55ull
#define NUB_CAPDIR_CAPACITY 4096u
#define NUB_CAPDIR_EMPTY 0u
#define NUB_CAPDIR_FULL 1u

typedef struct nub_capdir_header {
	uint64_t magic;     /* @0  NUB_CAPDIR_MAGIC */
	uint32_t capacity;  /* @8  power of two */
	uint32_t count;     /* @12 FULL entries */
	nub_gpa entries;    /* @16 gpa of entry 0 (= directory_va + 64) */
	uint64_t _reserved[5];
} NubCapDirHeader;

typedef struct nub_capdir_entry {
	uint8_t hash[NUB_CAP_HASH_LEN]; /* @0  */
	nub_gpa bytes_gpa;              /* @32 the encoding */
	uint32_t len;                   /* @40 its length */
	uint8_t kind;                   /* @44 NUB_CAP_KIND_* */
	uint8_t state;                  /* @45 NUB_CAPDIR_EMPTY / _FULL */
	uint16_t _pad;                  /* @46 */
	uint64_t aux;                   /* @48 guest-private (decoded program cache) */
	uint64_t _reserved;             /* @56 */
} NubCapDirEntry;

_Static_assert(sizeof(NubRpcFault) == 48, "fault report 48 B");
_Static_assert(offsetof(NubRpcFault, rip) == 16, "");
_Static_assert(offsetof(NubRpcFault, cr2) == 24, "");
_Static_assert(sizeof(NubRpcMailboxHeader) == NUB_RPC_HEADER_SIZE, "header one page");
_Static_assert(offsetof(NubRpcMailboxHeader, seq) == 20, "");
_Static_assert(offsetof(NubRpcMailboxHeader, fn_id) == 24, "");
_Static_assert(offsetof(NubRpcMailboxHeader, req_len) == 28, "");
_Static_assert(offsetof(NubRpcMailboxHeader, status) == 32, "");
_Static_assert(offsetof(NubRpcMailboxHeader, resp_len) == 36, "");
_Static_assert(offsetof(NubRpcMailboxHeader, resp_seq) == 40, "");
_Static_assert(offsetof(NubRpcMailboxHeader, ram_bytes) == 48, "");
_Static_assert(offsetof(NubRpcMailboxHeader, fault) == 56, "");
_Static_assert(offsetof(NubRpcMailboxHeader, vcpus) == 104, "");
_Static_assert(offsetof(NubRpcMailboxHeader, invocation_pages) == 112, "");
_Static_assert(offsetof(NubRpcMailbox, req) == 4096, "");
_Static_assert(offsetof(NubRpcMailbox, resp) == 4096 + NUB_RPC_REQ_CAP, "");
_Static_assert(sizeof(NubRpcMailbox) == NUB_RPC_MAILBOX_SIZE, "");
_Static_assert(NUB_GUEST_MAILBOX_GPA + NUB_RPC_MAILBOX_SIZE <= NUB_GUEST_HEAP_GPA, "mailbox below heap");
_Static_assert(NUB_GUEST_SLOTS_GPA + MAX_EXECUTION_LANES * NUB_PARALLEL_SLOT_STRIDE <= NUB_GUEST_LANE_BUFS_GPA, "");
_Static_assert(NUB_GUEST_LANE_BUFS_GPA + MAX_EXECUTION_LANES * NUB_GUEST_LANE_BUF_SIZE <= NUB_GUEST_MAILBOX_GPA, "");
_Static_assert(NUB_GUEST_LANE_BUF_SIZE % 4096 == 0 && NUB_GUEST_LANE_BUFS_GPA % 4096 == 0, "lane buffers: whole pages");
_Static_assert(sizeof(NubCapDirHeader) == 64, "capdir header 64 B");
_Static_assert(sizeof(NubCapDirEntry) == 64, "capdir entry 64 B");
_Static_assert(offsetof(NubCapDirEntry, bytes_gpa) == 32, "");
_Static_assert(offsetof(NubCapDirEntry, len) == 40, "");
_Static_assert(offsetof(NubCapDirEntry, kind) == 44, "");
_Static_assert(offsetof(NubCapDirEntry, state) == 45, "");
_Static_assert(offsetof(NubCapDirEntry, aux) == 48, "");
_Static_assert((NUB_CAPDIR_CAPACITY & (NUB_CAPDIR_CAPACITY - 1)) == 0, "power of two");

#endif /* NUB_RPC_H */
