#!/usr/bin/perl
# md2man.pl: turns the Markdown of docs/configuration.md into a man(7) page on stdout.
#
# Only what the project's docs use, and nothing that needs more than perl-base (so it runs on any
# Debian system, pandoc or not):
#   # Title                  dropped: the page's NAME comes from --name and --purpose
#   ## Heading / ### Heading .SH / .SS (words outside code spans upper-cased in .SH)
#   paragraphs               .PP
#   - item, 1. item          .IP, with continuation lines indented under the marker
#   | a | b | c | d |        a tagged list: .TP "a (b; header3: c)" then d; a table reads badly
#                            at 80 columns, a list of keys does not
#   ```lang ... ```          .EX/.EE, indented
#   `code` **bold** *em* _em_ [text](url)
# Anything else is passed through as paragraph text, so a new construct in the docs degrades to
# plain text rather than breaking the page; `man --warnings` in packaging/ci.sh catches roff errors.
#
# Usage: md2man.pl --name NAME --section N --purpose TEXT [--title T] [--date D] [--source S]
#                  [--manual M] [--synopsis LINE]... [--see-also REF]... [--files PATH=TEXT]... FILE.md
use strict;
use warnings;
use utf8;
use Getopt::Long;

my (%opt, @synopsis, @see_also, @files);
$opt{manual} = '';
$opt{source} = '';
$opt{date}   = '';
GetOptions(
    'name=s'     => \$opt{name},
    'section=s'  => \$opt{section},
    'purpose=s'  => \$opt{purpose},
    'title=s'    => \$opt{title},
    'date=s'     => \$opt{date},
    'source=s'   => \$opt{source},
    'manual=s'   => \$opt{manual},
    'synopsis=s' => \@synopsis,
    'see-also=s' => \@see_also,
    'files=s'    => \@files,
) or die "md2man: bad arguments\n";
for my $required (qw(name section purpose)) {
    die "md2man: --$required is required\n" unless defined $opt{$required};
}
die "md2man: one Markdown file expected\n" unless @ARGV == 1;
$opt{title} //= uc $opt{name};

open my $in, '<:utf8', $ARGV[0] or die "md2man: $ARGV[0]: $!\n";
my @lines = <$in>;
close $in;
chomp @lines;
binmode STDOUT, ':utf8';

# ---- escaping -------------------------------------------------------------------------------

my %special = (
    '≥' => '\(>=', '≤' => '\(<=', '…' => '\&...', '→' => '\(->', '←' => '\(<-',
    '—' => '\(em', '–' => '\(en', '×' => '\(mu', 'µ' => '\(mc', '“' => '\(lq', '”' => '\(rq',
    '‘' => '\(oq', '’' => '\(cq', "\x{a0}" => '\~',
);

# Text that roff must print as it is: backslashes and non-ASCII characters escaped.
sub escape {
    my ($text) = @_;
    $text =~ s/\\/\\e/g;
    $text =~ s/([^\x00-\x7f])/$special{$1} \/\/ sprintf('\\[u%04X]', ord $1)/ge;
    return $text;
}

# Literal text (code): also minus signs, which roff would otherwise print as hyphens.
sub escape_literal {
    my $text = escape($_[0]);
    $text =~ s/-/\\-/g;
    return $text;
}

# Inline Markdown to roff font escapes.
sub inline {
    my ($text) = @_;
    my @out;
    # Code spans first: nothing inside them is Markdown.
    for my $part (split /(`[^`]+`)/, $text) {
        if ($part =~ /^`(.+)`$/s) {
            # \% keeps roff from hyphenating identifiers at line ends.
            push @out, '\fB\%' . (escape_literal($1) =~ s/ / \\%/gr) . '\fR';
            next;
        }
        my $t = $part;
        # Links: keep the text; an absolute URL follows it in angle brackets.
        $t =~ s{\[([^\]]+)\]\(([^)\s]+)\)}{ $2 =~ m{^https?://} ? "$1 <$2>" : $1 }ge;
        $t = escape($t);
        $t =~ s/\*\*(.+?)\*\*/\\fB$1\\fR/g;
        $t =~ s/(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])/\\fI$1\\fR/g;
        $t =~ s/(?<![\w\\])_(?!\s)(.+?)(?<!\s)_(?!\w)/\\fI$1\\fR/g;
        push @out, $t;
    }
    return join '', @out;
}

# A line of running text: a leading . or ' would be read as a request.
sub text_line {
    my ($line) = @_;
    $line =~ s/^\s+//;
    $line = "\\&$line" if $line =~ /^['.]/;
    return $line;
}

# An argument of a macro, in double quotes.
sub macro_arg {
    my ($text) = @_;
    $text =~ s/"/\\(dq/g;
    return "\"$text\"";
}

sub heading_text {
    my ($text, $upper) = @_;
    my @parts;
    for my $part (split /(`[^`]+`)/, $text) {
        if ($part =~ /^`(.+)`$/) { push @parts, escape_literal($1) }
        else { push @parts, escape($upper ? uc $part : $part) }
    }
    return join '', @parts;
}

# The lines of one paragraph or list item as one line, so that a code span or emphasis may run
# across a line break as Markdown allows; roff fills the text anyway.
sub join_lines {
    return join ' ', map { s/^\s+|\s+$//gr } @_;
}

sub split_row {
    my ($row) = @_;
    $row =~ s/^\s*\|//;
    $row =~ s/\|\s*$//;
    my @cells = map { s/^\s+|\s+$//gr } split /(?<!\\)\|/, $row;
    s/\\\|/|/g for @cells;
    return @cells;
}

# ---- the page ---------------------------------------------------------------------------------

my @out;
push @out, sprintf('.TH %s %s %s %s %s', macro_arg(escape($opt{title})), $opt{section},
    macro_arg(escape($opt{date})), macro_arg(escape($opt{source})), macro_arg(escape($opt{manual})));
push @out, '.SH NAME', escape($opt{name}) . ' \- ' . escape($opt{purpose});
if (@synopsis) {
    push @out, '.SH SYNOPSIS';
    push @out, join("\n.br\n", map { text_line(inline($_)) } @synopsis);
}
push @out, '.SH DESCRIPTION';

my $i = 0;
my $n = @lines;
while ($i < $n) {
    my $line = $lines[$i];

    if ($line =~ /^\s*$/) { $i++; next }

    if ($line =~ /^# /) { $i++; next }

    if ($line =~ /^(#{2,4})\s+(.*?)\s*#*\s*$/) {
        my ($level, $title) = (length $1, $2);
        push @out, $level == 2 ? '.SH ' . macro_arg(heading_text($title, 1))
                               : '.SS ' . macro_arg(heading_text($title, 0));
        $i++;
        next;
    }

    if ($line =~ /^(\s*)(```+|~~~+)/) {
        my ($indent, $fence) = (length $1, $2);
        $i++;
        push @out, '.PP', '.RS 4', '.EX';
        while ($i < $n && $lines[$i] !~ /^\s*\Q$fence\E\s*$/) {
            my $code = $lines[$i];
            $code =~ s/^ {0,$indent}//;
            $code = escape_literal($code);
            $code = "\\&$code" if $code =~ /^['.]/ || $code eq '';
            push @out, $code;
            $i++;
        }
        $i++;    # the closing fence
        push @out, '.EE', '.RE';
        next;
    }

    if ($line =~ /^\s*\|/) {
        my @rows;
        while ($i < $n && $lines[$i] =~ /^\s*\|/) { push @rows, $lines[$i]; $i++ }
        my @header = split_row(shift @rows);
        shift @rows if @rows && $rows[0] =~ /^[\s|:-]+$/;
        for my $row (@rows) {
            my @cells = split_row($row);
            my $tag = '\fB' . escape_literal(($cells[0] // '') =~ s/^`|`$//gr) . '\fR';
            $tag = inline($cells[0]) if ($cells[0] // '') !~ /^`[^`]*`$/;
            my @facts;
            for my $c (1 .. $#header - 1) {
                my $value = $cells[$c] // '';
                next if $value eq '';
                my $name = lc $header[$c];
                push @facts, $name eq 'type' ? inline($value) : escape($name) . ': ' . inline($value);
            }
            $tag .= ' (' . join('; ', @facts) . ')' if @facts;
            push @out, '.TP', text_line($tag);
            my $meaning = @header > 1 ? ($cells[$#header] // '') : '';
            push @out, text_line(inline($meaning)) if $meaning ne '';
        }
        next;
    }

    if ($line =~ /^(\s*)([-*+]|\d+[.)])\s+(.*)$/) {
        # One list, item by item; an item's continuation lines are indented past column 0.
        my $ordered = $2 =~ /^\d/;
        push @out, '.RS 2' if length $1;
        while ($i < $n && $lines[$i] =~ /^(\s*)([-*+]|\d+[.)])\s+(.*)$/) {
            my ($marker, @item) = ($2, $3);
            $i++;
            while ($i < $n && $lines[$i] =~ /^\s+\S/ && $lines[$i] !~ /^\s*([-*+]|\d+[.)])\s/) {
                push @item, $lines[$i];
                $i++;
            }
            push @out, $ordered ? ".IP $marker 4" : '.IP \(bu 2';
            push @out, text_line(inline(join_lines(@item)));
        }
        push @out, '.RE' if $line =~ /^\s+/;
        next;
    }

    # A paragraph: every line up to a blank line or the start of another block.
    my @para;
    while ($i < $n && $lines[$i] !~ /^\s*$/ && $lines[$i] !~ /^(#{1,4}\s|\s*\||\s*```|\s*~~~|\s*([-*+]|\d+[.)])\s)/) {
        push @para, $lines[$i];
        $i++;
    }
    push @out, '.PP', text_line(inline(join_lines(@para)));
}

if (@files) {
    push @out, '.SH FILES';
    for my $entry (@files) {
        my ($path, $what) = split /=/, $entry, 2;
        push @out, '.TP', text_line('\fI' . escape($path) . '\fR'), text_line(inline($what // ''));
    }
}
if (@see_also) {
    push @out, '.SH "SEE ALSO"';
    push @out, join(",\n", map { /^(.+)\((\w+)\)$/ ? '\fB' . escape_literal($1) . "\\fR($2)" : escape($_) } @see_also);
}

print join("\n", @out), "\n";
