/// The web console's Mustache templates. Kept in the binary (one file to deploy); `{{x}}` is HTML-escaped,
/// `{{{body}}}` only ever receives HTML rendered from these templates, `{{{svg}}}` only a flow picture made by
/// `FlowPicture` (every text in it escaped). No inline scripts or styles: the
/// Content-Security-Policy forbids them.
enum ConsoleTemplates {
    static let all: [String: String] = [
        "layout": layout, "login": login, "sites": sites, "queue": queue, "change": change, "audit": audit, "error": error,
        "rollout": rollout, "record": record, "notifications": notifications,
    ]

    static let layout = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Interlock</title>
        <link rel="stylesheet" href="/static/console.css">
        </head>
        <body>
        <a class="skip" href="#main">Skip to the content</a>
        <header class="top">
          <a class="brand" href="/sites">Interlock</a>
          {{#user}}
          <nav aria-label="Main">
            <a href="/sites"{{#navSites}} aria-current="page"{{/navSites}}>Sites</a>
            <a href="/queue"{{#navQueue}} aria-current="page"{{/navQueue}}>Queue</a>
            <a href="/rollout"{{#navRollout}} aria-current="page"{{/navRollout}}>Rollout</a>
            {{#canAudit}}<a href="/audit"{{#navAudit}} aria-current="page"{{/navAudit}}>Audit log</a>{{/canAudit}}
            {{#canAudit}}<a href="/notifications"{{#navNotifications}} aria-current="page"{{/navNotifications}}>Notifications</a>{{/canAudit}}
          </nav>
          <form class="signout" method="post" action="/logout">
            <input type="hidden" name="csrf" value="{{csrf}}">
            <span class="who">{{name}} <small>({{id}}, {{roles}})</small></span>
            <button type="submit">Sign out</button>
          </form>
          {{/user}}
        </header>
        <main id="main">
        {{#rehearsal}}<p class="flash error" role="alert" id="rehearsal">Rehearsal — {{rehearsal}}. Every audit record written now says so.</p>{{/rehearsal}}
        {{#flash}}<p class="flash {{kind}}" role="status" id="flash">{{text}}</p>{{/flash}}
        {{{body}}}
        </main>
        <footer>Interlock {{version}} · plant times are local to each site, with UTC alongside</footer>
        </body>
        </html>
        """

    static let login = """
        <section class="card narrow">
        <h1>Sign in</h1>
        {{#error}}<p class="flash error" role="alert" id="login-error">{{error}}</p>{{/error}}
        <form method="post" action="/login" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="next" value="{{next}}">
          <label for="username">User id</label>
          <input id="username" name="username" autocomplete="username" required value="{{username}}" autofocus>
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" id="sign-in">Sign in</button>
        </form>
        <p class="hint">Accounts are the users of this Interlock instance's configuration. After {{maxFailures}} failed attempts an account is locked for {{lockoutMinutes}} minutes.</p>
        </section>
        """

    static let sites = """
        <h1>Sites</h1>
        <p class="meta">Desired state {{#commit}}at commit <code>{{commit}}</code>{{/commit}}{{^commit}}not read yet{{/commit}}{{#lastPass}} · last reconcile {{lastPass}}{{/lastPass}}</p>
        {{#loadError}}<p class="flash error" role="alert">{{loadError}}</p>{{/loadError}}
        {{^sites}}<p class="empty">No sites yet: the desired state has not been read. The reconciler reads it at start-up and at every poll interval.</p>{{/sites}}
        <div class="grid">
        {{#sites}}
        <section class="card site" id="site-{{name}}">
          <h2>{{displayName}} <small>{{name}}</small></h2>
          <p><span class="badge {{statusClass}}">{{status}}</span> {{statusDetail}}</p>
          <dl>
            <dt>Plant time</dt><dd>{{localTime}} <small>({{timezone}})</small></dd>
            <dt>Next window</dt><dd>{{window}}</dd>
            {{#freeze}}<dt>Freeze</dt><dd class="warn">{{freeze}}</dd>{{/freeze}}
            <dt>Active changes</dt><dd>{{#active}}<a href="/changes/{{id}}">{{id}}</a> <span class="badge {{statusClass}}">{{status}}</span> {{/active}}{{^active}}none{{/active}}</dd>
            <dt>Approval</dt><dd>{{approval}}</dd>
            <dt>Target</dt><dd><code>{{target}}</code></dd>
            {{#agent}}<dt>Agent</dt><dd class="{{agentClass}}" id="agent-{{name}}">{{agent}}</dd>{{/agent}}
          </dl>
          {{#hasDrift}}
          <h3>Changed outside Interlock</h3>
          <ul class="drift">{{#drift}}<li>{{summary}}</li>{{/drift}}</ul>
          {{/hasDrift}}
          <p><a href="/queue?site={{name}}">Queue for {{displayName}}</a></p>
        </section>
        {{/sites}}
        </div>
        """

    static let rollout = """
        <h1>Rollout</h1>
        <p class="meta">Each commit reaches the sites wave by wave, left to right: a later wave waits until the earlier waves applied it and baked.
        Times in plant time, UTC in parentheses.</p>
        {{^hasCommits}}<p class="empty">No commits reconciled yet.</p>{{/hasCommits}}
        {{#commits}}
        <section class="card rollout-commit">
        <h2>commit <code>{{commit}}</code> {{summary}}</h2>
        <ol class="pipeline" aria-label="waves of commit {{commit}}">
        {{#waves}}
        <li class="wave"><h3>wave {{name}} {{#bake}}<small>({{bake}})</small>{{/bake}}</h3>
        <ul class="sites">
        {{#sites}}<li class="site {{stateClass}}"><strong>{{site}}</strong> <span class="badge {{stateClass}}">{{state}}</span>
          {{#countdown}}<span class="countdown">{{countdown}}</span>{{/countdown}}
          <div class="detail">{{#change}}<a href="/changes/{{change}}">{{change}}</a> {{/change}}{{detail}}</div></li>
        {{/sites}}
        </ul></li>
        {{/waves}}
        </ol>
        {{#canDecide}}
        <details class="decide"{{#halted}} open{{/halted}}>
        <summary>{{#halted}}Resume this commit's rollout after the halt, or skip the waves{{/halted}}{{^halted}}Skip the waves for this commit{{/halted}}</summary>
        <p class="meta">A rollout owner's decision about commit <code>{{commit}}</code>: recorded with your printed name, the time and your reason. <strong>Resume</strong> lifts a halt after a failure in an earlier wave; <strong>skip</strong> lets later waves go ahead without waiting for the earlier waves to apply and bake. Every change still needs its own approvals and window.</p>
        <div class="forms">
        {{#halted}}<form method="post" action="/rollout/{{fullCommit}}/resume" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label for="resume-reason-{{commit}}">Reason</label><textarea id="resume-reason-{{commit}}" name="reason" required rows="2"></textarea>
          <label for="resume-password-{{commit}}">Password</label><input id="resume-password-{{commit}}" name="password" type="password" autocomplete="current-password" required>
          <button type="submit">Resume the rollout</button>
        </form>{{/halted}}
        <form method="post" action="/rollout/{{fullCommit}}/skip" class="stack">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <label for="skip-reason-{{commit}}">Reason</label><textarea id="skip-reason-{{commit}}" name="reason" required rows="2"></textarea>
          <label for="skip-password-{{commit}}">Password</label><input id="skip-password-{{commit}}" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="reject">Skip the waves</button>
        </form>
        </div>
        </details>
        {{/canDecide}}
        </section>
        {{/commits}}
        """

    static let queue = """
        <h1>Change queue{{#siteFilter}} — {{siteFilter}}{{/siteFilter}}</h1>
        <form method="get" action="/queue" class="filters">
          <label for="site">Site</label>
          <select id="site" name="site"><option value="">all sites</option>{{#siteOptions}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/siteOptions}}</select>
          <label class="check"><input type="checkbox" name="all" value="1"{{#all}} checked{{/all}}> include finished changes</label>
          <button type="submit">Show</button>
        </form>
        {{^changes}}<p class="empty">{{emptyText}}</p>{{/changes}}
        {{#hasChanges}}
        <table class="list">
        <thead><tr><th>Change</th><th>Status</th><th>Site</th><th>Plan</th><th>Waiting for</th><th>Commit</th></tr></thead>
        <tbody>
        {{#changes}}
        <tr id="row-{{id}}">
          <td><a href="/changes/{{id}}">{{id}}</a></td>
          <td><span class="badge {{statusClass}}">{{status}}</span></td>
          <td>{{site}}</td>
          <td><code>{{planShort}}</code> {{summary}}</td>
          <td>{{#waitingFor}}<div>{{.}}</div>{{/waitingFor}}{{^waitingFor}}{{statusReason}}{{/waitingFor}}</td>
          <td>{{commitSummary}} <small>{{author}}</small></td>
        </tr>
        {{/changes}}
        </tbody>
        </table>
        {{/hasChanges}}
        """

    static let change = """
        <p class="crumbs"><a href="/queue">Queue</a> › <a href="/queue?site={{site}}">{{site}}</a> › {{id}}</p>
        <h1>{{id}} <span class="badge {{statusClass}}" id="change-status">{{status}}</span></h1>
        {{#statusReason}}<p class="meta">{{statusReason}}</p>{{/statusReason}}
        {{#successor}}<p class="meta" id="successor">Replaced by <a href="/changes/{{successor}}">{{successor}}</a>.
        {{#carriedOver}}The signatures of {{carriedOver}} carried over to it: it has the same operations and live state, only the commit differs.{{/carriedOver}}
        {{#lapsed}}<strong>The signatures of {{lapsed}} lapsed</strong>{{#lapsedWhy}} ({{lapsedWhy}}){{/lapsedWhy}}: {{successor}} needs its own.{{/lapsed}}</p>{{/successor}}
        <dl class="facts">
          <dt>Site</dt><dd>{{siteName}} ({{site}}, {{timezone}})</dd>
          <dt>Plan</dt><dd><code id="plan-id">{{planId}}</code> — {{summary}}</dd>
          <dt>Commit</dt><dd>{{#commit}}<code>{{commit}}</code>{{/commit}} {{commitSummary}} {{#author}}<small>by {{author}}</small>{{/author}}</dd>
          <dt>Queued</dt><dd>{{createdLocal}} <small>({{createdUTC}})</small></dd>
          <dt>Gate</dt><dd>{{gate}}</dd>
          <dt>Target</dt><dd><code id="target">{{target}}</code></dd>
          <dt>Rules from</dt><dd id="rules-from">{{rulesFrom}}</dd>
          {{#affects}}<dt>Affects</dt><dd id="affects">{{affects}}</dd>{{/affects}}
          {{#hasOwners}}<dt>Accountable</dt><dd id="owners"><ul class="owners">{{#owners}}<li><strong>{{component}}</strong>{{#product}} <small>({{product}})</small>{{/product}}: {{owner}}</li>{{/owners}}</ul></dd>{{/hasOwners}}
        </dl>

        <section class="card" id="risk">
        <h2>Risk: {{riskHeadline}}</h2>
        <ul class="risk">
        {{#risk}}<li class="{{level}}"><span class="level">{{level}}</span> {{text}}{{#change}} — <a href="/changes/{{change}}">{{change}}</a>{{/change}}</li>
        {{/risk}}
        </ul>
        </section>

        {{#hasRuleChanges}}
        <section class="card" id="rule-changes">
        <h2>{{ruleHeadline}}</h2>
        <table class="list"><thead><tr><th>Field</th><th>Old (trusted)</th><th>New (this commit)</th></tr></thead><tbody>
        {{#ruleChanges}}<tr><td>{{field}}</td><td>{{old}}</td><td>{{new}}</td></tr>{{/ruleChanges}}
        </tbody></table>
        </section>
        {{/hasRuleChanges}}

        {{#hasCommits}}
        <section class="card" id="commits">
        <h2>Commits in this change</h2>
        <p class="meta">Nobody who wrote or committed one of them may approve it{{#allowAuthor}} (this site allows authors to approve){{/allowAuthor}}.</p>
        <table class="list"><thead><tr><th>Commit</th><th>Summary</th><th>Author</th><th>Committer</th><th>Brings</th></tr></thead><tbody>
        {{#commits}}<tr><td><code>{{id}}</code></td><td>{{summary}}</td><td>{{author}}</td><td>{{committer}}</td><td class="brings">{{#brings}}<code>{{.}}</code> {{/brings}}{{^brings}}<small>nothing in this plan</small>{{/brings}}</td></tr>{{/commits}}
        </tbody></table>
        </section>
        {{/hasCommits}}

        <section class="card" id="gates">
        <h2>Gates</h2>
        {{^gates}}<p class="meta">Gates are evaluated for waiting and ready changes only.</p>{{/gates}}
        <ul class="gates">
        {{#gates}}<li class="{{stateClass}}"><span class="mark" aria-hidden="true">{{mark}}</span> <strong>{{name}}</strong>: {{text}}</li>{{/gates}}
        </ul>
        {{#ready}}<p class="ok">Every gate is open: the reconciler applies it at its next pass.</p>{{/ready}}
        </section>

        {{#hasApprovals}}
        <section class="card" id="signatures">
        <h2>Signatures</h2>
        <table class="list"><thead><tr><th>Signed by</th><th>Meaning</th><th>Reason</th><th>Time</th><th>Authenticated by</th><th>Plan</th></tr></thead><tbody>
        {{#approvals}}<tr><td>{{name}} <small>({{id}})</small></td><td>{{meaning}}</td><td>{{reason}}</td><td>{{local}} <small>({{utc}})</small></td><td class="authentication">{{authentication}}</td><td><code>{{plan}}</code>{{#stale}} <small>(another plan)</small>{{/stale}}{{#carriedFrom}} <small class="carried">(signed on <a href="/changes/{{carriedFrom}}">{{carriedFrom}}</a>, plan <code>{{carriedPlan}}</code>; carried over: only the commit differs)</small>{{/carriedFrom}}</td></tr>{{/approvals}}
        </tbody></table>
        </section>
        {{/hasApprovals}}



        <section class="card" id="plan">
        <h2>What changes at {{siteName}}</h2>
        {{^operations}}<p class="empty">The plan has no operations.</p>{{/operations}}
        {{#operations}}
        <article class="op">
          <h3><span class="sym {{action}}">{{symbol}}</span> <code>{{path}}</code> {{#policyPath}}<small>({{policyPath}})</small>{{/policyPath}}
            {{#adopts}}<span class="badge warn">takes over a file Interlock did not write</span>{{/adopts}}
            {{#revertsDrift}}<span class="badge warn">reverts drift</span>{{/revertsDrift}}
            {{#describesOnly}}<span class="badge">description, owner or affects only: no reload</span>{{/describesOnly}}</h3>
          {{#hasAbout}}<ul class="about">{{#about}}<li>{{.}}</li>{{/about}}</ul>{{/hasAbout}}
          {{#introducedBy}}<p class="meta introduced">From commit <code>{{introducedBy}}</code> {{introducedSummary}}{{#introducedAuthor}} <small>by {{introducedAuthor}}</small>{{/introducedAuthor}}</p>{{/introducedBy}}
          {{#svg}}<figure class="flow">{{{svg}}}<figcaption>{{pictureCaption}}</figcaption></figure>{{/svg}}
          {{#hasLines}}<pre class="diff">{{#lines}}<span class="{{kind}}">{{text}}</span>
        {{/lines}}</pre>{{/hasLines}}
        </article>
        {{/operations}}
        </section>

        {{#signNote}}<p class="flash" id="sign-note">{{signNote}}</p>{{/signNote}}
        {{#canSign}}
        <section class="card sign" id="sign">
        <h2>Sign this change</h2>
        <p>You have read the plan above. Your signature applies to plan <code>{{planShort}}</code> only. Re-enter your password to sign as <strong>{{signerName}}</strong>; the audit log records your printed name, the time, the meaning and your reason.</p>
        {{#signError}}<p class="flash error" role="alert" id="sign-error">{{signError}}</p>{{/signError}}
        <div class="forms">
        {{#canApprove}}
        <form method="post" action="/changes/{{id}}/approve" class="stack" id="approve-form">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="plan" value="{{planId}}">
          <p class="meaning">Meaning: <strong>{{approveMeaning}}</strong></p>
          <label for="approve-reason">Reason</label>
          <textarea id="approve-reason" name="reason" required rows="3">{{typedApprove}}</textarea>
          <label for="approve-password">Password</label>
          <input id="approve-password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="approve" id="approve-button">Approve and sign</button>
        </form>
        {{/canApprove}}
        {{#canReject}}
        <form method="post" action="/changes/{{id}}/reject" class="stack" id="reject-form">
          <input type="hidden" name="csrf" value="{{csrf}}">
          <input type="hidden" name="plan" value="{{planId}}">
          <p class="meaning">Meaning: <strong>{{rejectMeaning}}</strong></p>
          <label for="reject-reason">Reason</label>
          <textarea id="reject-reason" name="reason" required rows="3">{{typedReject}}</textarea>
          <label for="reject-password">Password</label>
          <input id="reject-password" name="password" type="password" autocomplete="current-password" required>
          <button type="submit" class="reject" id="reject-button">Reject and sign</button>
        </form>
        {{/canReject}}
        </div>
        </section>
        {{/canSign}}

        <section class="card" id="integrity">
        <h2>Record</h2>
        <dl class="facts">
          <dt>Last record of this change</dt><dd>{{#lastRecord}}#{{sequence}} <code>{{hash}}</code>{{/lastRecord}}{{^lastRecord}}none{{/lastRecord}}</dd>
          <dt>Head of the audit chain</dt><dd>{{#chainHead}}#{{sequence}} <code>{{hash}}</code> at {{at}}{{/chainHead}}</dd>
        </dl>
        <p class="meta print-only">Printed from Interlock {{planShort}} · {{id}}. The hashes identify this change's records in the tamper-evident audit log; <code>interlock audit verify</code> checks the chain.</p>
        </section>

        {{#hasTimeline}}
        <section class="card" id="timeline">
        <h2>Timeline</h2>
        <p class="meta">Every record of the audit log that names this change, oldest first, in plant time with UTC beside it.</p>
        <ol class="timeline">
        {{#timeline}}<li class="{{#failed}}failed{{/failed}}"><span class="when">{{local}} <small>({{utc}})</small></span> <strong>{{action}}</strong> by {{actor}} <small>({{actorID}}, {{authentication}})</small>{{#resource}} <code>{{resource}}</code>{{/resource}}{{#note}} — {{note}}{{/note}} {{#link}}<a href="/audit/records/{{sequence}}" class="record">#{{sequence}}</a>{{/link}}{{^link}}<small>#{{sequence}}</small>{{/link}}</li>
        {{/timeline}}
        </ol>
        {{#timelineMore}}<p class="meta">More records follow: the audit log filtered by this change has them all.</p>{{/timelineMore}}
        </section>
        {{/hasTimeline}}
        """

    static let audit = """
        <h1>Audit log</h1>
        <section class="card" id="verify">
        <h2>Integrity</h2>
        {{#verify}}
        <p><span class="badge {{verifyClass}}" id="verify-result">{{verifyText}}</span> {{records}} record(s), head <code>{{head}}</code>, checked {{at}}.</p>
        {{#firstProblem}}<p class="flash error">{{firstProblem}}</p>{{/firstProblem}}
        {{#hasNotes}}<ul class="notes">{{#notes}}<li>{{.}}</li>{{/notes}}</ul>{{/hasNotes}}
        {{/verify}}
        {{^verify}}<p class="meta">Not verified since the server started.</p>{{/verify}}
        <form method="post" action="/audit/verify"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" id="verify-button">Verify the whole log now</button></form>
        </section>
        <form method="get" action="/audit" class="filters">
          <label for="f-site">Site</label><input id="f-site" name="site" value="{{f_site}}">
          <label for="f-actor">Actor</label><input id="f-actor" name="actor" value="{{f_actor}}">
          <label for="f-action">Action</label><input id="f-action" name="action" value="{{f_action}}" placeholder="change.*">
          <label for="f-category">Category</label><select id="f-category" name="category"><option value="">any</option>{{#categories}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/categories}}</select>
          <label for="f-change">Change or plan</label><input id="f-change" name="change" value="{{f_change}}">
          <label for="f-since">Since</label><input id="f-since" name="since" value="{{f_since}}" placeholder="2026-03-01 or 7d">
          <label for="f-until">Until</label><input id="f-until" name="until" value="{{f_until}}">
          <label for="f-limit">Newest</label><input id="f-limit" name="limit" value="{{f_limit}}" inputmode="numeric">
          <button type="submit">Filter</button>
        </form>
        <p class="meta">{{shown}} of {{total}} record(s) · {{filter}} · export: <a href="/audit/export?{{exportQuery}}format=csv" id="export-csv">CSV</a> · <a href="/audit/export?{{exportQuery}}format=jsonl" id="export-jsonl">JSON Lines</a></p>
        {{^records}}<p class="empty">No audit records match these filters.</p>{{/records}}
        {{#hasRecords}}
        <table class="list audit">
        <thead><tr><th>#</th><th>Time (UTC)</th><th>Plant time</th><th>Actor</th><th>Action</th><th>Site</th><th>Change / plan</th><th>Result</th><th>Reason / error</th></tr></thead>
        <tbody>
        {{#records}}
        <tr class="{{resultClass}}"><td><a href="/audit/records/{{sequence}}">{{sequence}}</a></td><td>{{utc}}</td><td>{{local}}</td><td>{{actor}} <small>{{role}}, {{authentication}}</small></td><td><code>{{action}}</code></td><td>{{site}}</td><td>{{#change}}<a href="/changes/{{change}}">{{change}}</a>{{/change}} {{#plan}}<code>{{plan}}</code>{{/plan}}</td><td>{{result}}</td><td>{{note}}</td></tr>
        {{/records}}
        </tbody>
        </table>
        {{/hasRecords}}
        """

    static let notifications = """
        <h1>Notifications</h1>
        {{^configured}}<p class="empty">The instance configuration has no <code>notifications</code> section: nobody is notified. See docs/notifications.md.</p>{{/configured}}
        {{#configured}}
        <p class="meta">Who is told what, from the audit log: {{rules}} rule(s); {{channels}}. Each delivery is recorded (<code>notification.sent</code>, <code>notification.failed</code>).</p>
        <ul class="gates" id="notification-counts">
          <li class="{{#failed}}blocked{{/failed}}{{^failed}}open{{/failed}}"><strong>{{failedCount}}</strong> failed (given up after every attempt)</li>
          <li class="{{#pending}}closed{{/pending}}{{^pending}}open{{/pending}}"><strong>{{pendingCount}}</strong> pending</li>
          <li class="open"><strong>{{sentCount}}</strong> sent</li>
        </ul>
        {{/configured}}
        {{#hasItems}}
        <table class="list" id="notifications"><thead><tr><th>#</th><th>Event</th><th>To</th><th>Subject</th><th>Status</th><th>Last error</th></tr></thead><tbody>
        {{#items}}<tr class="{{status}}"><td>{{id}}</td><td>{{event}}{{#change}}<br><a href="/changes/{{change}}">{{change}}</a>{{/change}}</td><td>{{channel}}: {{recipient}}</td><td>{{subject}}</td>
        <td><span class="badge {{statusClass}}">{{status}}</span> <small>{{when}}</small>{{#attempts}}<br><small>{{attempts}} attempt(s)</small>{{/attempts}}</td><td>{{error}}</td></tr>
        {{/items}}
        </tbody></table>
        {{/hasItems}}
        """

    static let record = """
        <p class="crumbs"><a href="/audit">Audit log</a> › record {{sequence}}</p>
        <h1>Audit record {{sequence}}: <code>{{action}}</code></h1>
        {{#change}}<p class="meta">Change <a href="/changes/{{change}}">{{change}}</a> · <a href="/audit?change={{change}}">every record of it</a></p>{{/change}}
        <section class="card" id="record">
        <dl class="facts">
        {{#fields}}<dt>{{name}}</dt><dd>{{value}}</dd>
        {{/fields}}
        </dl>
        </section>
        {{#hasDetails}}
        <section class="card" id="record-details">
        <h2>Details</h2>
        <table class="list"><tbody>{{#details}}<tr><th scope="row">{{key}}</th><td>{{value}}</td></tr>{{/details}}</tbody></table>
        </section>
        {{/hasDetails}}
        <section class="card" id="chain">
        <h2>Place in the chain</h2>
        <dl class="facts">
          <dt>Previous record's hash</dt><dd><code>{{previousHash}}</code></dd>
          <dt>This record's hash</dt><dd><code id="record-hash">{{hash}}</code> {{#computedMatches}}<span class="badge ok">matches its content</span>{{/computedMatches}}{{^computedMatches}}<span class="badge bad">does not match its content</span>{{/computedMatches}}</dd>
        </dl>
        <p>{{#previous}}<a href="/audit/records/{{previous}}" rel="prev">‹ record {{previous}}</a>{{/previous}} {{#next}}<a href="/audit/records/{{next}}" rel="next">record {{next}} ›</a>{{/next}}</p>
        <p class="meta">One record's hash shows its own content is intact; <a href="/audit">verifying the whole log</a> checks every link of the chain and the signed checkpoints.</p>
        </section>
        """

    static let error = """
        <section class="card narrow">
        <h1>{{heading}}</h1>
        <p id="error-message">{{message}}</p>
        <p><a href="/sites">Back to the sites</a></p>
        </section>
        """
}
