using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Formatting;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace NativeBuffers.Analyzers.CodeFixes;

/// <summary>
/// The fix for NAP001 (a leaked lease): <c>var b = pool.Rent(n);</c> followed by the rest of its block becomes
/// <c>var b = pool.Rent(n); try { ...the rest... } finally { pool.Return(b); }</c>. Offered only where that is
/// plainly right (see <see cref="ReturnInFinallyPlan"/>); elsewhere the code is left for its author to decide.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ReturnInFinallyCodeFix)), Shared]
public sealed class ReturnInFinallyCodeFix : CodeFixProvider
{
    /// <inheritdoc />
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(LeaseDescriptors.LeaseLeaked.Id);

    /// <inheritdoc />
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc />
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        SemanticModel? model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null || model is null)
            return;
        foreach (Diagnostic diagnostic in context.Diagnostics)
        {
            // NAP001 is reported at the Rent call that made the lease.
            if (root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true) is not InvocationExpressionSyntax rent)
                continue;
            ReturnInFinallyPlan? plan = ReturnInFinallyPlan.TryCreate(rent, model, context.CancellationToken);
            if (plan is null)
                continue;
            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Return '{plan.LeaseName}' to the pool in a finally block",
                    token => Apply(context.Document, plan, token),
                    equivalenceKey: nameof(ReturnInFinallyCodeFix)),
                diagnostic);
        }
    }

    private static async Task<Document> Apply(Document document, ReturnInFinallyPlan plan, CancellationToken cancellationToken)
    {
        SyntaxNode? root = await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false);
        if (root is null)
            return document;

        TryStatementSyntax tryFinally = TryStatement(
                Block(plan.Guarded),
                default,
                FinallyClause(Block(ExpressionStatement(plan.ReturnCall))))
            .WithAdditionalAnnotations(Formatter.Annotation);

        SyntaxList<StatementSyntax> statements = List(
            plan.Block.Statements.Take(plan.DeclarationIndex + 1)
                .Append(tryFinally)
                .Concat(plan.KeptAfter));
        return document.WithSyntaxRoot(root.ReplaceNode(plan.Block, plan.Block.WithStatements(statements)));
    }
}
