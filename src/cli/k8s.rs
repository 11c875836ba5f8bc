//! `syncwatch k8s render`: the RBAC the restart targets need.

use syncwatch::config::Plan;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: K8sCommand,
}

#[derive(clap::Subcommand)]
enum K8sCommand {
    /// RBAC for the restart targets: get and patch on exactly the Deployments named.
    Render {
        /// The service account syncwatch runs as.
        #[arg(long, default_value = "syncwatch")]
        service_account: String,
        /// Its namespace.
        #[arg(long, default_value = "syncwatch")]
        namespace: String,
    },
}

pub fn run(a: Args, plan: &Plan) -> u8 {
    let K8sCommand::Render {
        service_account,
        namespace,
    } = a.what;
    print!(
        "{}",
        syncwatch::restart::rbac::rbac(plan, &service_account, &namespace)
    );
    0
}
