/* guest_heap.c: the guest heap: first fit over an address-ordered free list.
 *
 * Every block is 16-byte aligned and a multiple of 16 bytes. A free block
 * starts with {size, next}; an allocated block with a 16-byte header
 * {size, magic ^ address} right before the payload, so a bad or double free
 * is caught (guest_panic). Freeing coalesces with both neighbours. An
 * aligned request carves the front padding off as its own free block.
 * HEAP_STATS: allocated_bytes = bytes in allocated blocks (headers
 * included), allocation_count = live allocations, fragment_count = free
 * blocks, available_bytes = bytes in free blocks; allocated + available is
 * always the heap size. One spinlock guards it all (several vCPUs allocate
 * once lanes run); a fault while it is held is fatal anyway (guest_panic).
 */
#include "guest/guest.h"

#define HDR 16u
#define ALLOC_MAGIC 0x4E55424845415021ull

typedef struct free_blk {
	size_t size;
	struct free_blk *next;
} free_blk;

typedef struct {
	uint64_t size;
	uint64_t check; /* ALLOC_MAGIC ^ header address */
} alloc_hdr;

static free_blk *free_list;
static NubHeapStats stats;
static guest_spinlock heap_lock; /* every vCPU allocates */

/* A broken heap invariant: the lock is let go before the panic (a unit test
 * catches the panic and goes on using the heap). */
#define HEAP_ASSERT(c) ((c) ? (void)0 : (guest_spin_unlock(&heap_lock), guest_panic(__FILE__, __LINE__, #c)))

void guest_heap_init(uintptr_t base, size_t size)
{
	uintptr_t b = (base + 15u) & ~(uintptr_t)15u;
	size = (size - (b - base)) & ~(size_t)15u;
	free_list = (free_blk *)b;
	free_list->size = size;
	free_list->next = NULL;
	stats = (NubHeapStats){0, 0, 1, size};
}

static void *heap_alloc(size_t size, size_t align)
{
	if (align < 16)
		align = 16;
	if (size > ((size_t)1 << 40) || (align & (align - 1)))
		return NULL;
	size_t need = HDR + ((size + 15u) & ~(size_t)15u);
	if (need < 32)
		need = 32;
	for (free_blk **pp = &free_list; *pp; pp = &(*pp)->next) {
		free_blk *b = *pp;
		uintptr_t start = (uintptr_t)b;
		uintptr_t payload = (start + HDR + align - 1) & ~(uintptr_t)(align - 1);
		size_t front = payload - HDR - start;
		if (front + need > b->size)
			continue;
		size_t tail = b->size - front - need;
		if (tail < sizeof(free_blk)) { /* too small to stand alone */
			need += tail;
			tail = 0;
		}
		free_blk *next = b->next;
		/* front piece keeps b's place in the list, tail follows it */
		if (tail) {
			free_blk *t = (free_blk *)(payload - HDR + need);
			t->size = tail;
			t->next = next;
			next = t;
		}
		if (front) {
			b->size = front;
			b->next = next;
		} else {
			*pp = next;
		}
		/* b became 0, 1 or 2 free pieces */
		if (!front && !tail)
			stats.fragment_count--;
		else if (front && tail)
			stats.fragment_count++;
		alloc_hdr *h = (alloc_hdr *)(payload - HDR);
		h->size = need;
		h->check = ALLOC_MAGIC ^ (uint64_t)(uintptr_t)h;
		stats.allocated_bytes += need;
		stats.available_bytes -= need;
		stats.allocation_count++;
		memset((void *)payload, 0, need - HDR);
		return (void *)payload;
	}
	return NULL;
}

static void heap_free(void *p)
{
	alloc_hdr *h = (alloc_hdr *)((uintptr_t)p - HDR);
	HEAP_ASSERT(h->check == (ALLOC_MAGIC ^ (uint64_t)(uintptr_t)h));
	size_t size = h->size;
	h->check = 0;
	stats.allocated_bytes -= size;
	stats.available_bytes += size;
	stats.allocation_count--;

	free_blk *blk = (free_blk *)h;
	blk->size = size;
	free_blk *prev = NULL, *cur = free_list;
	while (cur && cur < blk) {
		prev = cur;
		cur = cur->next;
	}
	HEAP_ASSERT(!cur || (uintptr_t)blk + size <= (uintptr_t)cur);
	HEAP_ASSERT(!prev || (uintptr_t)prev + prev->size <= (uintptr_t)blk);
	blk->next = cur;
	stats.fragment_count++;
	if (prev)
		prev->next = blk;
	else
		free_list = blk;
	if (cur && (uintptr_t)blk + blk->size == (uintptr_t)cur) {
		blk->size += cur->size;
		blk->next = cur->next;
		stats.fragment_count--;
	}
	if (prev && (uintptr_t)prev + prev->size == (uintptr_t)blk) {
		prev->size += blk->size;
		prev->next = blk->next;
		stats.fragment_count--;
	}
}

void *guest_heap_alloc(size_t size, size_t align)
{
	guest_spin_lock(&heap_lock);
	void *p = heap_alloc(size, align);
	guest_spin_unlock(&heap_lock);
	return p;
}

void guest_heap_free(void *p)
{
	if (!p)
		return;
	guest_spin_lock(&heap_lock);
	heap_free(p);
	guest_spin_unlock(&heap_lock);
}

void guest_heap_stats(NubHeapStats *out)
{
	guest_spin_lock(&heap_lock);
	*out = stats;
	guest_spin_unlock(&heap_lock);
}
