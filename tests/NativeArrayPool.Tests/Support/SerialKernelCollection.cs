namespace NativeBuffers.Tests.Support;

/// <summary>
/// Tests that read the whole process's mappings from /proc/self/maps run alone, after the parallel tests, so
/// other tests' pools cannot map into the address space they watch: a pool of another test could map into a range
/// this test's arena gave back and look like a leak, or add mappings to a count this test compares.
/// </summary>
[CollectionDefinition(nameof(SerialKernelCollection), DisableParallelization = true)]
public sealed class SerialKernelCollection;
