namespace NativeBuffers.Tests.Support;

/// <summary>
/// Tests that read the whole process's mappings from /proc/self/maps run alone, after the parallel tests,
/// so other tests' pools cannot map into the address space they watch.
/// </summary>
[CollectionDefinition(nameof(SerialKernelCollection), DisableParallelization = true)]
public sealed class SerialKernelCollection;
