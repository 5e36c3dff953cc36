import CKernels

/// How the process's allocator treats the large, short-lived buffers of training (gates, cells and their
/// gradients: tens of MB allocated and freed every step).
///
/// By default glibc serves blocks above 128 KB (a limit that creeps up to at most 32 MB) with fresh `mmap`s and
/// unmaps them when freed, and trims free memory at the top of its heap: every step then pays the kernel to map
/// and zero those pages again. In an LSTM window at 1 thread that was a third of forward+backward
/// (`bench lstm`: 112–115 ms → 71–74 ms). The executables call ``keepFreedBlocksForReuse()`` once at start.
public enum ProcessMemory {
    /// Blocks up to 32 MB (glibc's largest allowed threshold) come from the heap, and up to 1 GB of free heap
    /// top stays mapped for the next step. Larger buffers (full-softmax logits) are reused by their owners.
    public static func keepFreedBlocksForReuse() {
        elmo_keep_freed_blocks(32 << 20, 1 << 30)
    }

    /// Returns the heap's free memory to the system: after a phase whose memory will not be needed again (the
    /// HDF5 layout of a large embedding job), which the retained top above would otherwise keep.
    public static func releaseFreeHeap() {
        elmo_release_free_heap()
    }
}
